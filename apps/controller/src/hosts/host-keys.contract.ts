import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { HostKeyError } from '../errors/errors';
import { announced, type OpenHostKeys, recordSeen, setup } from './host-keys.fixtures';
import type { HostKeyRepository } from './host-keys.port';
import { DEFAULT_HOST_KEY_BOUNDS, HostKeysStore, MAX_PENDING_KEYS_PER_HOST } from './host-keys.store';

/**
 * The behaviour every {@link HostKeyRepository} adapter shares, through the {@link HostKeysStore}
 * above it and directly: recording, accepting, rejecting, bounds, replays and labels. `open` gives
 * a repository over empty storage (a fresh one for each test). Pre-accepted keys: see
 * host-keys.pre-accept.contract.ts.
 */
export function describeHostKeysContract(label: string, open: OpenHostKeys): void {
  describe(`${label} (HostKeyRepository contract)`, () => {
    describe('HostKeysStore over the repository', () => {
      it('records a new key pending, accepts it on request, and still trusts it after a restart', async () => {
        const { clock, repo, keys, reopen } = await setup(open);
        const a = announced();
        expect((await keys.seen('web1', a.publicKey, a.keyId, false)).result).toBe('new-pending');
        clock.advance(5_000);
        expect((await keys.seen('web1', a.publicKey, a.keyId, false)).result).toBe('pending');
        expect(await repo.keysOf('web1', 0)).toEqual([
          {
            host: 'web1',
            keyId: a.keyId,
            publicKey: a.publicKey,
            status: 'pending',
            firstSeenAt: 10_000,
            lastSeenAt: 15_000,
            lastSentAt: 0,
            labels: {},
            acceptedLabels: null,
          },
        ]);
        expect(keys.acceptedKey(a.keyId)).toBeNull();
        expect(await keys.accept('web1', undefined, 'alice')).toMatchObject({ keyId: a.keyId, replaced: null });
        expect(keys.acceptedKey(a.keyId)?.host).toBe('web1');
        expect(await keys.view('web1')).toEqual({ trust: 'accepted', keyId: a.keyId, pendingKeyIds: [] });

        const restarted = new HostKeysStore(reopen(), clock);
        await restarted.onModuleInit();
        expect(restarted.isAccepted('web1')).toBe(true);
        expect(restarted.acceptedKey(a.keyId)?.host).toBe('web1');
      });

      it('auto-accepts only a first key; a later one is a change that replaces it only when accepted', async () => {
        const { keys } = await setup(open);
        const [a, b] = [announced(), announced()];
        expect((await keys.seen('web1', a.publicKey, a.keyId, true)).result).toBe('auto-accepted');
        expect((await keys.seen('web1', b.publicKey, b.keyId, true)).result).toBe('changed');
        expect((await keys.seen('web1', b.publicKey, b.keyId, true)).result).toBe('changed');
        expect(await keys.view('web1')).toEqual({ trust: 'changed', keyId: a.keyId, pendingKeyIds: [b.keyId] });
        expect(await keys.accept('web1', b.keyId, 'alice')).toMatchObject({ keyId: b.keyId, replaced: a.keyId });
        expect(keys.acceptedKey(a.keyId)).toBeNull();
        expect((await keys.seen('web1', a.publicKey, a.keyId, true)).result).toBe('changed'); // the retired key stays out
        expect(await keys.view('web1')).toEqual({ trust: 'accepted', keyId: b.keyId, pendingKeyIds: [] });
      });

      it('tells where every host stands from one read (views) exactly as one by one (view)', async () => {
        const { clock, repo, keys } = await setup(open);
        const [a, b, c, d, e] = [announced(), announced(), announced(), announced(), announced()];
        await keys.seen('web1', a.publicKey, a.keyId, true); // accepted
        await keys.seen('web1', b.publicKey, b.keyId, true); // and a change pending
        await keys.seen('db1', c.publicKey, c.keyId, false); // pending
        clock.advance(1_000);
        await keys.seen('db1', d.publicKey, d.keyId, false); // two pending, in the order first heard
        await keys.seen('app1', e.publicKey, e.keyId, true); // accepted alone
        const hosts = ['web1', 'db1', 'app1', 'never-heard'];
        let reads = 0;
        const listKeys = repo.listKeys.bind(repo);
        repo.listKeys = (since) => (reads++, listKeys(since));
        const all = await keys.views(hosts);
        expect(reads).toBe(1);
        for (const h of hosts) expect(all.get(h), h).toEqual(await keys.view(h));
        expect(all.get('db1')).toEqual({ trust: 'pending', keyId: null, pendingKeyIds: [c.keyId, d.keyId] });
        expect(all.get('never-heard')).toEqual({ trust: 'unknown', keyId: null, pendingKeyIds: [] });
      });

      it('refuses to accept nothing, or one of several pending keys not named', async () => {
        const { keys } = await setup(open);
        await expect(keys.accept('web9', undefined, 'alice')).rejects.toThrow(/no agent has announced host web9/);
        const [a, b] = [announced(), announced()];
        await keys.seen('web1', a.publicKey, a.keyId, false);
        await keys.seen('web1', b.publicKey, b.keyId, false);
        await expect(keys.accept('web1', undefined, 'alice')).rejects.toThrow(HostKeyError);
        await expect(keys.accept('web1', 'SHA256:nope', 'alice')).rejects.toThrow(/no pending key SHA256:nope/);
        expect(keys.isAccepted('web1')).toBe(false);
      });
    });

    describe('HostKeysStore with a store that answers later (real I/O, as a database server would)', () => {
      /** The repository, each call answered on a later turn of the event loop. */
      function slow(repo: HostKeyRepository): HostKeyRepository {
        return new Proxy(repo, {
          get: (target, name) => {
            const v = Reflect.get(target, name) as unknown;
            if (typeof v !== 'function') return v;
            return async (...args: unknown[]) => {
              await new Promise((r) => setTimeout(r, 1));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
      }

      it('two accepts of one host at once: the second replaces the first, and only the last key is trusted', async () => {
        const { repo } = await open();
        const keys = new HostKeysStore(slow(repo), new ManualClock(10_000));
        const [a, b] = [announced(), announced()];
        await keys.seen('web1', a.publicKey, a.keyId, false);
        await keys.seen('web1', b.publicKey, b.keyId, false);
        const [first, second] = await Promise.all([
          keys.accept('web1', a.keyId, 'alice'),
          keys.accept('web1', b.keyId, 'bob'),
        ]);
        expect(first).toMatchObject({ keyId: a.keyId, replaced: null });
        expect(second).toMatchObject({ keyId: b.keyId, replaced: a.keyId });
        expect(keys.acceptedKey(a.keyId)).toBeNull();
        expect(keys.acceptedKey(b.keyId)?.host).toBe('web1');
        expect((await repo.keysOf('web1', 0)).map((k) => [k.keyId, k.status])).toEqual([[b.keyId, 'accepted']]);
      });
    });

    describe('the repository', () => {
      it('makes room for a new pending key over the per-host bound by evicting the least recently heard one', async () => {
        const repo = (await open()).repo;
        const opts = { accept: false, labels: {}, maxPendingPerHost: 2, maxPending: 100, pendingHeardSince: 0 };
        const key = (n: number) => ({ host: 'web1', keyId: `k${n}`, publicKey: 'p' });
        expect(await recordSeen(repo, key(1), { ...opts, at: 1 })).toEqual({ inserted: 'pending', evicted: [] });
        expect(await recordSeen(repo, key(2), { ...opts, at: 2 })).toEqual({ inserted: 'pending', evicted: [] });
        expect(await recordSeen(repo, key(1), { ...opts, at: 3 })).toEqual({ known: 'pending' }); // k2 is now the stalest
        expect(await recordSeen(repo, key(3), { ...opts, at: 4 })).toEqual({
          inserted: 'pending',
          evicted: [{ host: 'web1', keyId: 'k2' }],
        });
        expect(await recordSeen(repo, key(4), { ...opts, at: 5, accept: true })).toEqual({
          inserted: 'accepted',
          evicted: [],
        });
        expect((await repo.listAccepted()).map((r) => r.keyId)).toEqual(['k4']);
        expect((await repo.keysOf('web1', 0)).map((r) => [r.keyId, r.status])).toEqual([
          ['k1', 'pending'],
          ['k3', 'pending'],
          ['k4', 'accepted'],
        ]);
      });

      it('accepts one key of a host and retires the one it replaces, at once', async () => {
        const repo = (await open()).repo;
        const opts = { accept: false, at: 1, labels: {}, maxPendingPerHost: 4, maxPending: 100, pendingHeardSince: 0 };
        await recordSeen(repo, { host: 'web1', keyId: 'k1', publicKey: 'p' }, { ...opts, accept: true });
        await recordSeen(repo, { host: 'web1', keyId: 'k2', publicKey: 'p' }, opts);
        await repo.accept('web1', 'k2', 'alice', 2);
        expect((await repo.listAccepted()).map((r) => r.keyId)).toEqual(['k2']);
        expect((await repo.keysOf('web1', 0)).map((r) => [r.keyId, r.status])).toEqual([['k2', 'accepted']]);
      });
    });

    describe('HostKeysStore: a host can always be onboarded (issue 19, item 4)', () => {
      it('four forged fresh keys for a name do not lock out the real agent: its key heard now is recorded, and accepted', async () => {
        const { clock, keys } = await setup(open);
        for (let i = 0; i < MAX_PENDING_KEYS_PER_HOST; i++) {
          const forged = announced();
          await keys.seen('web1', forged.publicKey, forged.keyId, false);
          clock.advance(10);
        }
        const real = announced();
        await keys.seen('web1', real.publicKey, real.keyId, false);
        const view = await keys.view('web1');
        expect(view.pendingKeyIds).toHaveLength(MAX_PENDING_KEYS_PER_HOST);
        expect(view.pendingKeyIds).toContain(real.keyId);
        expect(await keys.accept('web1', real.keyId, 'alice')).toMatchObject({ keyId: real.keyId, replaced: null });
        expect(keys.acceptedKey(real.keyId)?.host).toBe('web1');
      });

      it('forgets a pending key not heard within the TTL (24 h by default), so it neither shows nor counts', async () => {
        const { clock, keys } = await setup(open);
        const old = announced();
        await keys.seen('web1', old.publicKey, old.keyId, false);
        clock.advance(24 * 3_600_000 - 1);
        expect((await keys.view('web1')).pendingKeyIds).toEqual([old.keyId]);
        clock.advance(2);
        expect(await keys.view('web1')).toEqual({ trust: 'unknown', keyId: null, pendingKeyIds: [] });
        await expect(keys.accept('web1', undefined, 'alice')).rejects.toThrow(/no agent has announced host web1/);
      });

      it('takes the TTL from its bounds (`--pending-key-ttl`), measured from the last heartbeat of the key', async () => {
        const clock = new ManualClock(10_000);
        const keys = new HostKeysStore((await open()).repo, clock, {
          ...DEFAULT_HOST_KEY_BOUNDS,
          pendingKeyTtlMs: 60_000,
        });
        const [a, b] = [announced(), announced()];
        await keys.seen('web1', a.publicKey, a.keyId, false);
        await keys.seen('web1', b.publicKey, b.keyId, false);
        clock.advance(50_000);
        await keys.seen('web1', b.publicKey, b.keyId, false); // b is still heard, a is not
        clock.advance(20_000);
        expect((await keys.view('web1')).pendingKeyIds).toEqual([b.keyId]);
        expect((await keys.listKeys()).map((k) => k.keyId)).toEqual([b.keyId]);
      });

      it('rejects a pending key: it is gone, its heartbeats are ignored, and only `accept --key` takes it back', async () => {
        const { keys } = await setup(open);
        const [junk, real] = [announced(), announced()];
        await keys.seen('web1', junk.publicKey, junk.keyId, false);
        await keys.seen('web1', real.publicKey, real.keyId, false);
        await expect(keys.reject('web1', undefined, 'alice')).rejects.toThrow(/2 pending keys .*name one/);
        await expect(keys.reject('web1', 'SHA256:nope', 'alice')).rejects.toThrow(/no pending key SHA256:nope/);
        expect(await keys.reject('web1', junk.keyId, 'alice')).toEqual({ keyId: junk.keyId, preAccepted: false });
        expect((await keys.seen('web1', junk.publicKey, junk.keyId, false)).result).toBe('rejected');
        expect((await keys.view('web1')).pendingKeyIds).toEqual([real.keyId]);
        await expect(keys.reject('web9', undefined, 'alice')).rejects.toThrow(HostKeyError);
        // A mistaken rejection is undone by naming the key to accept.
        expect(await keys.accept('web1', junk.keyId, 'alice')).toMatchObject({ keyId: junk.keyId, accepted: 'key' });
        expect(keys.acceptedKey(junk.keyId)?.host).toBe('web1');
        expect((await keys.seen('web1', junk.publicKey, junk.keyId, false)).result).toBe('accepted');
      });
    });

    describe('HostKeysStore: replayed heartbeats (item 7) and labels (item 10)', () => {
      it('ignores a heartbeat not newer than the newest one of its key, also after a restart', async () => {
        const { clock, keys, reopen } = await setup(open);
        const a = announced();
        expect((await keys.seen('web1', a.publicKey, a.keyId, true, { sentAt: 5_000 })).result).toBe('auto-accepted');
        expect((await keys.seen('web1', a.publicKey, a.keyId, true, { sentAt: 6_000 })).result).toBe('accepted');
        const restarted = new HostKeysStore(reopen(), clock);
        await restarted.onModuleInit();
        expect((await restarted.seen('web1', a.publicKey, a.keyId, true, { sentAt: 6_000 })).result).toBe('stale');
        expect((await restarted.seen('web1', a.publicKey, a.keyId, true, { sentAt: 5_500 })).result).toBe('stale');
        expect((await restarted.seen('web1', a.publicKey, a.keyId, true, { sentAt: 6_001 })).result).toBe('accepted');
      });

      it('accepts the labels a key announces with it; a later change is used only once accepted, also after a restart', async () => {
        const { clock, keys, reopen } = await setup(open);
        const a = announced();
        await keys.seen('web1', a.publicKey, a.keyId, false, { sentAt: 1, labels: { role: 'web' } });
        expect(keys.acceptedLabels('web1')).toEqual({});
        await keys.seen('web1', a.publicKey, a.keyId, false, { sentAt: 2, labels: { role: 'web', zone: 'eu' } });
        expect(await keys.accept('web1', undefined, 'alice')).toMatchObject({
          keyId: a.keyId,
          labels: { role: 'web', zone: 'eu' },
          accepted: 'key',
        });
        expect(keys.acceptedLabels('web1')).toEqual({ role: 'web', zone: 'eu' });
        await keys.seen('web1', a.publicKey, a.keyId, false, { sentAt: 3, labels: { role: 'db' } });
        expect(keys.acceptedLabels('web1')).toEqual({ role: 'web', zone: 'eu' });
        const restarted = new HostKeysStore(reopen(), clock);
        await restarted.onModuleInit();
        expect(restarted.acceptedLabels('web1')).toEqual({ role: 'web', zone: 'eu' });
        expect(await restarted.accept('web1', undefined, 'alice')).toEqual({
          keyId: a.keyId,
          replaced: null,
          labels: { role: 'db' },
          accepted: 'labels',
        });
        expect(restarted.acceptedLabels('web1')).toEqual({ role: 'db' });
        await expect(restarted.accept('web1', undefined, 'alice')).rejects.toThrow(/no pending key \(accepted: /);
      });

      it('auto-accept accepts a first key with its labels, not a later change of them', async () => {
        const { keys } = await setup(open);
        const a = announced();
        await keys.seen('web1', a.publicKey, a.keyId, true, { sentAt: 1, labels: { role: 'web' } });
        await keys.seen('web1', a.publicKey, a.keyId, true, { sentAt: 2, labels: { role: 'db' } });
        expect(keys.acceptedLabels('web1')).toEqual({ role: 'web' });
      });
    });

    describe('HostKeysStore: a host can always be onboarded, whatever the pending bounds', () => {
      it('20 forged pending keys with a bound of 20 do not stop a new host joining: the least recently heard one goes', async () => {
        const h = await open();
        const clock = new ManualClock(10_000);
        const keys = new HostKeysStore(h.repo, clock, { ...DEFAULT_HOST_KEY_BOUNDS, maxPending: 20 });
        for (let i = 0; i < 20; i++) {
          await keys.seen(`junk${i}`, 'p', `SHA256:junk${i}`, false);
          clock.advance(1);
        }
        clock.advance(1_000);
        const real = announced();
        expect(await keys.seen('db1', real.publicKey, real.keyId, false)).toEqual({
          result: 'new-pending',
          evicted: [{ host: 'junk0', keyId: 'SHA256:junk0' }],
        });
        expect(await keys.view('db1')).toEqual({ trust: 'pending', keyId: null, pendingKeyIds: [real.keyId] });
        expect((await keys.view('junk0')).trust).toBe('unknown'); // heard least recently: evicted
        expect((await keys.view('junk1')).trust).toBe('pending');
        expect(await h.repo.listKeys(0)).toHaveLength(20);
      });
    });

    describe('the repository: a heartbeat asking to auto-accept when a key was accepted meanwhile', () => {
      it('stores the new key pending, leaving the accepted one (another controller accepted it since the caller looked)', async () => {
        const { repo } = await open();
        const opts = { accept: true, at: 1, labels: {}, maxPendingPerHost: 4, maxPending: 100, pendingHeardSince: 0 };
        await recordSeen(repo, { host: 'web1', keyId: 'k1', publicKey: 'p' }, opts);
        expect(await recordSeen(repo, { host: 'web1', keyId: 'k2', publicKey: 'p' }, { ...opts, at: 2 })).toEqual({
          inserted: 'pending',
          evicted: [],
        });
        expect((await repo.keysOf('web1', 0)).map((k) => [k.keyId, k.status])).toEqual([
          ['k1', 'accepted'],
          ['k2', 'pending'],
        ]);
      });
    });
  });
}
