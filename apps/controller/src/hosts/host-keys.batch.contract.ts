import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { announced, type OpenHostKeys, recordSeen } from './host-keys.fixtures';
import type { HostKeyRepository, KeySighting, RecordSeenOptions, RecordSeenOutcome } from './host-keys.port';
import { DEFAULT_HOST_KEY_BOUNDS, HostKeysStore } from './host-keys.store';

/** Options of a sighting: pending bounds of 2 per host, 100 in all, nothing expired. */
const opts = (over: Partial<RecordSeenOptions> = {}): RecordSeenOptions => ({
  accept: false,
  at: 100,
  labels: {},
  maxPendingPerHost: 2,
  maxPending: 100,
  pendingHeardSince: 0,
  ...over,
});
const key = (host: string, keyId = 'k1') => ({ host, keyId, publicKey: 'p' });

/** A known accepted key, a pending one whose newest heartbeat was sent at 50, a rejected one, a pre-accepted one, a host at its pending bound. */
async function arrange(repo: HostKeyRepository): Promise<void> {
  await recordSeen(repo, key('known'), opts({ accept: true, at: 1, sentAt: 1 }));
  await recordSeen(repo, key('stale'), opts({ at: 1, sentAt: 50 }));
  await recordSeen(repo, key('rej'), opts({ at: 1 }));
  await repo.reject('rej', 'k1', 'alice', 2);
  await repo.preAccept('pre', 'k1', 'alice', 2);
  await recordSeen(repo, key('full', 'k1'), opts({ at: 1 }));
  await recordSeen(repo, key('full', 'k2'), opts({ at: 2 }));
}

/** One sighting of each kind, in this order. */
const MIXED: KeySighting[] = [
  { key: key('new'), opts: opts({ labels: { role: 'web' } }) },
  { key: key('auto'), opts: opts({ accept: true }) },
  { key: key('known'), opts: opts({ sentAt: 60 }) },
  { key: key('stale'), opts: opts({ sentAt: 50 }) },
  { key: key('rej'), opts: opts() },
  { key: key('pre'), opts: opts({ sentAt: 5 }) },
  { key: key('full', 'k3'), opts: opts() },
  { key: key('auto2'), opts: opts({ accept: true }) }, // past the batch's auto-accept room: pending
];

/** The repository, each call of `slower` answered `ms` later than the others (1 ms). */
function slow(repo: HostKeyRepository, slower: keyof HostKeyRepository, ms: number): HostKeyRepository {
  return new Proxy(repo, {
    get: (target, name) => {
      const v = Reflect.get(target, name) as unknown;
      if (typeof v !== 'function') return v;
      return async (...args: unknown[]) => {
        await new Promise((r) => setTimeout(r, name === slower ? ms : 1));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/**
 * The behaviour every {@link HostKeyRepository} adapter shares for a batch of sightings
 * (`recordSeenMany`) and the {@link HostKeysStore} batch above it (`seenMany`): one transaction, the
 * outcomes of one by one, all or nothing, and each host held against accepts and rejects.
 */
export function describeHostKeyBatchContract(label: string, open: OpenHostKeys): void {
  describe(`${label} (HostKeyRepository contract: a batch of sightings)`, () => {
    it('records new, auto-accepted, known, replayed, rejected and pre-accepted keys in ONE transaction, as one by one would', async () => {
      const batched = await open();
      await arrange(batched.repo);
      const before = batched.transactions();
      const outcomes = await batched.repo.recordSeenMany(MIXED, { maxAutoAccepted: 1 });
      expect(batched.transactions() - before).toBe(1);
      expect(outcomes).toEqual([
        { inserted: 'pending', evicted: [] },
        { inserted: 'accepted', evicted: [] },
        { known: 'accepted' },
        { stale: true },
        { rejected: true },
        { preAccepted: { by: 'alice', replaced: null } },
        { inserted: 'pending', evicted: [{ host: 'full', keyId: 'k1' }] },
        { inserted: 'pending', evicted: [] },
      ]);

      const alone = await open();
      await arrange(alone.repo);
      const one: RecordSeenOutcome[] = [];
      let autoAccepted = 0;
      for (const item of MIXED) {
        const [o] = await alone.repo.recordSeenMany([item], { maxAutoAccepted: 1 - autoAccepted });
        if ('inserted' in o && o.inserted === 'accepted') autoAccepted++;
        one.push(o);
      }
      expect(one).toEqual(outcomes);
      expect(await batched.repo.listKeys(0)).toEqual(await alone.repo.listKeys(0));
      expect(await batched.repo.listPreAccepted()).toEqual([]);
      expect(await batched.repo.rejectedKey('rej', 'k1')).toEqual(key('rej'));
    });

    it('applies the sightings of a batch in order: a later one of the same key sees the earlier', async () => {
      const { repo } = await open();
      expect(
        await repo.recordSeenMany([
          { key: key('web1'), opts: opts({ sentAt: 10 }) },
          { key: key('web1'), opts: opts({ sentAt: 10 }) },
          { key: key('web1'), opts: opts({ sentAt: 11 }) },
        ]),
      ).toEqual([{ inserted: 'pending', evicted: [] }, { stale: true }, { known: 'pending' }]);
    });

    it('records nothing of a batch whose storage fails part way, and rejects', async () => {
      const { repo } = await open();
      await arrange(repo);
      const keysBefore = await repo.listKeys(0);
      const broken = { host: 'bad', keyId: 'k1', publicKey: null as unknown as string }; // NOT NULL fails the insert
      await expect(
        repo.recordSeenMany([
          { key: key('new'), opts: opts() },
          { key: key('known'), opts: opts({ at: 200, sentAt: 60 }) },
          { key: key('pre'), opts: opts() },
          { key: broken, opts: opts() },
        ]),
      ).rejects.toThrow();
      expect(await repo.listKeys(0)).toEqual(keysBefore);
      expect((await repo.listPreAccepted()).map((p) => p.host)).toEqual(['pre']);
    });

    it('HostKeysStore.seenMany: a burst of heartbeats of many hosts is one transaction, and the auto-accept bound holds within it', async () => {
      const h = await open();
      const keys = new HostKeysStore(h.repo, new ManualClock(10_000), {
        ...DEFAULT_HOST_KEY_BOUNDS,
        maxAutoAccepted: 3,
      });
      await keys.onModuleInit();
      const hosts = ['web1', 'web2', 'web3', 'web4', 'web5'].map((host) => ({ host, ...announced(), sentAt: 1 }));
      const changed: string[] = [];
      keys.onChanged((host) => changed.push(host));
      const before = h.transactions();
      const seen = await keys.seenMany(hosts, true);
      expect(h.transactions() - before).toBe(1);
      expect(seen.map((s) => s.result)).toEqual([
        'auto-accepted',
        'auto-accepted',
        'auto-accepted',
        'new-pending',
        'new-pending',
      ]);
      expect(hosts.map((s) => keys.isAccepted(s.host))).toEqual([true, true, true, false, false]);
      expect(changed).toEqual(['web1', 'web2', 'web3']);
      const again = await keys.seenMany(
        hosts.map((s) => ({ ...s, sentAt: 2 })),
        true,
      );
      expect(again.map((s) => s.result)).toEqual(['accepted', 'accepted', 'accepted', 'pending', 'pending']);
    });

    it('HostKeysStore.seenMany holds each of its hosts: an accept issued while the batch runs waits for it, and a batch waits for an accept under way', async () => {
      const { repo } = await open();
      const [a, b] = [announced(), announced()];
      const keys = new HostKeysStore(slow(repo, 'recordSeenMany', 30), new ManualClock(10_000));
      const batch = keys.seenMany(
        [
          { host: 'web2', ...announced() },
          { host: 'web1', ...b },
        ],
        false,
      );
      const accepted = keys.accept('web1', b.keyId, 'alice'); // b is being recorded: it is accepted, not pre-accepted
      expect((await batch).map((s) => s.result)).toEqual(['new-pending', 'new-pending']);
      expect(await accepted).toMatchObject({ keyId: b.keyId, accepted: 'key' });

      const later = new HostKeysStore(slow(repo, 'keysOf', 30), new ManualClock(10_000));
      await later.onModuleInit();
      await later.seen('web3', a.publicKey, a.keyId, false);
      const accepting = later.accept('web3', a.keyId, 'alice');
      const heard = later.seenMany([{ host: 'web3', ...a, sentAt: 1 }], false); // after the accept: the key is accepted
      expect(await accepting).toMatchObject({ keyId: a.keyId, accepted: 'key' });
      expect((await heard).map((s) => s.result)).toEqual(['accepted']);
    });
  });
}
