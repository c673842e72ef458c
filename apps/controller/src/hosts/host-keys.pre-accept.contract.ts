import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { HostKeyError } from '../errors/errors';
import { announced, type OpenHostKeys, recordSeen, setup } from './host-keys.fixtures';
import { DEFAULT_HOST_KEY_BOUNDS, HostKeysStore, MAX_PENDING_KEYS_PER_HOST } from './host-keys.store';

/** The agent's heartbeat interval in these specs (ms). */
const INTERVAL = 1_000;

/** `MAX_PENDING_KEYS_PER_HOST` fresh junk keys for `host` within one heartbeat interval: every pending slot of it. */
async function flood(keys: HostKeysStore, clock: ManualClock, host: string): Promise<void> {
  for (let i = 0; i < MAX_PENDING_KEYS_PER_HOST; i++) {
    clock.advance(INTERVAL / (MAX_PENDING_KEYS_PER_HOST + 1));
    const junk = announced();
    await keys.seen(host, junk.publicKey, junk.keyId, false, { sentAt: clock.now(), labels: {} });
  }
}

/**
 * The behaviour every {@link HostKeyRepository} adapter shares for pre-accepted keys and bounded
 * auto-accept, through the {@link HostKeysStore} above it. `open` gives a repository over empty
 * storage (a fresh one for each test).
 */
export function describeHostKeyPreAcceptContract(label: string, open: OpenHostKeys): void {
  describe(`${label} (HostKeyRepository contract: pre-accepted keys)`, () => {
    describe('HostKeysStore: a host can always be onboarded, also while junk keys flood its name (pre-accepted keys)', () => {
      it('4 junk keys per interval evict the real key between heartbeats, yet `accept --key <real>` ends with it accepted on its next heartbeat', async () => {
        const { clock, keys } = await setup(open);
        const real = announced();
        const heartbeat = () =>
          keys.seen('web1', real.publicKey, real.keyId, false, { sentAt: clock.now(), labels: { role: 'web' } });
        for (let beat = 0; beat < 3; beat++) {
          await heartbeat();
          await flood(keys, clock, 'web1');
        }
        expect((await keys.view('web1')).pendingKeyIds).not.toContain(real.keyId); // evicted by the flood
        const answer = await keys.accept('web1', real.keyId, 'alice');
        expect(answer).toMatchObject({ keyId: real.keyId, replaced: null });
        expect(keys.isAccepted('web1')).toBe(false); // not before a heartbeat signed by that key
        await flood(keys, clock, 'web1'); // junk takes no place of a pre-accepted key
        clock.advance(INTERVAL);
        expect((await heartbeat()).result).toBe('pre-accepted');
        expect(keys.acceptedKey(real.keyId)?.host).toBe('web1');
        expect(keys.acceptedLabels('web1')).toEqual({ role: 'web' });
        await flood(keys, clock, 'web1');
        expect((await keys.view('web1')).keyId).toBe(real.keyId);
      });

      it('pre-accepts a key never heard (`--key` from the agent log), shows it in the key list, and accepts its first heartbeat', async () => {
        const { clock, keys, reopen } = await setup(open);
        const real = announced();
        const answer = await keys.accept('web2', real.keyId, 'alice');
        expect(answer).toEqual({ keyId: real.keyId, replaced: null, labels: {}, accepted: 'pre-accepted' });
        expect(await keys.listPreAccepted()).toEqual([
          { host: 'web2', keyId: real.keyId, acceptedAt: 10_000, acceptedBy: 'alice' },
        ]);
        const restarted = new HostKeysStore(reopen(), clock);
        await restarted.onModuleInit();
        const other = announced();
        expect((await restarted.seen('web2', other.publicKey, other.keyId, false)).result).toBe('new-pending');
        expect((await restarted.seen('web2', real.publicKey, real.keyId, false, { labels: { a: 'b' } })).result).toBe(
          'pre-accepted',
        );
        expect(restarted.acceptedLabels('web2')).toEqual({ a: 'b' });
        expect(await restarted.listPreAccepted()).toEqual([]);
      });

      it('a pre-accepted key for another host name, or a heartbeat of another key, accepts nothing', async () => {
        const { keys } = await setup(open);
        const real = announced();
        await keys.accept('web3', real.keyId, 'alice');
        expect((await keys.seen('web4', real.publicKey, real.keyId, false)).result).toBe('new-pending');
        expect(keys.isAccepted('web4')).toBe(false);
        expect(keys.isAccepted('web3')).toBe(false);
      });

      it('a key change: the old key stays accepted until the pre-accepted new one is heard, which then replaces it', async () => {
        const { keys } = await setup(open);
        const [old, next] = [announced(), announced()];
        await keys.seen('db1', old.publicKey, old.keyId, true);
        expect(await keys.accept('db1', next.keyId, 'alice')).toMatchObject({
          accepted: 'pre-accepted',
          replaced: old.keyId,
        });
        expect(keys.acceptedKey(old.keyId)?.host).toBe('db1');
        expect((await keys.seen('db1', old.publicKey, old.keyId, false)).result).toBe('accepted');
        expect((await keys.seen('db1', next.publicKey, next.keyId, false)).result).toBe('pre-accepted');
        expect(keys.acceptedKey(old.keyId)).toBeNull();
        expect(keys.acceptedKey(next.keyId)?.host).toBe('db1');
        expect((await keys.seen('db1', old.publicKey, old.keyId, false)).result).toBe('changed');
      });

      it('a later pre-accept replaces an earlier one; accepting a heard key, or `reject --key`, withdraws it', async () => {
        const { keys } = await setup(open);
        const [a, b, heard] = [announced(), announced(), announced()];
        await keys.accept('web5', a.keyId, 'alice');
        await keys.accept('web5', b.keyId, 'alice');
        expect((await keys.listPreAccepted()).map((k) => k.keyId)).toEqual([b.keyId]);
        expect((await keys.seen('web5', a.publicKey, a.keyId, false)).result).toBe('new-pending');
        await expect(keys.reject('web5', 'SHA256:nope', 'bob')).rejects.toThrow(/no pending key SHA256:nope/);
        expect(await keys.reject('web5', b.keyId, 'bob')).toEqual({ keyId: b.keyId, preAccepted: true });
        expect(await keys.listPreAccepted()).toEqual([]);
        expect((await keys.seen('web5', b.publicKey, b.keyId, false)).result).toBe('new-pending');

        await keys.accept('web6', a.keyId, 'alice');
        await keys.seen('web6', heard.publicKey, heard.keyId, false);
        expect(await keys.accept('web6', heard.keyId, 'alice')).toMatchObject({ accepted: 'key' });
        expect(await keys.listPreAccepted()).toEqual([]);
        expect((await keys.seen('web6', a.publicKey, a.keyId, false)).result).toBe('changed');
      });

      it('refuses to pre-accept what is not a fingerprint, or the key already accepted', async () => {
        const { keys } = await setup(open);
        const a = announced();
        await expect(keys.accept('web7', 'SHA256:nope', 'alice')).rejects.toThrow(HostKeyError);
        await expect(keys.accept('web7', 'SHA256:nope', 'alice')).rejects.toThrow(/not a key fingerprint/);
        await keys.seen('web7', a.publicKey, a.keyId, true);
        await expect(keys.accept('web7', a.keyId, 'alice')).rejects.toThrow(/already accepted/);
        expect(await keys.listPreAccepted()).toEqual([]);
      });
    });

    describe('HostKeysStore: --auto-accept is bounded', () => {
      it('stops auto-accepting at `maxAutoAccepted` accepted hosts: forged names beyond it are only pending', async () => {
        const bounds = { ...DEFAULT_HOST_KEY_BOUNDS, maxAutoAccepted: 2 };
        const keys = new HostKeysStore((await open()).repo, new ManualClock(0), bounds);
        const [a, b, c] = [announced(), announced(), announced()];
        expect((await keys.seen('h1', a.publicKey, a.keyId, true)).result).toBe('auto-accepted');
        expect((await keys.seen('h2', b.publicKey, b.keyId, true)).result).toBe('auto-accepted');
        expect((await keys.seen('h3', c.publicKey, c.keyId, true)).result).toBe('new-pending');
        expect(keys.isAccepted('h3')).toBe(false);
        expect(await keys.accept('h3', undefined, 'alice')).toMatchObject({ keyId: c.keyId, accepted: 'key' }); // an admin still can
      });

      it('auto-accepts no other key for a host whose key an operator pre-accepted: that one is awaited', async () => {
        const keys = new HostKeysStore((await open()).repo, new ManualClock(0));
        const [real, junk] = [announced(), announced()];
        expect(await keys.accept('h1', real.keyId, 'alice')).toMatchObject({ accepted: 'pre-accepted' });
        expect((await keys.seen('h1', junk.publicKey, junk.keyId, true)).result).toBe('new-pending');
        expect(keys.isAccepted('h1')).toBe(false);
        expect((await keys.seen('h1', real.publicKey, real.keyId, true)).result).toBe('pre-accepted');
        expect(keys.isAccepted('h1')).toBe(true);
      });
    });

    describe('the repository: accepting a key that is gone', () => {
      it('changes nothing and says so when the key was evicted meanwhile (the store then pre-accepts it)', async () => {
        const repo = (await open()).repo;
        const opts = { accept: true, at: 1, labels: {}, maxPendingPerHost: 4, maxPending: 100, pendingHeardSince: 0 };
        await recordSeen(repo, { host: 'web1', keyId: 'k1', publicKey: 'p' }, opts);
        expect(await repo.accept('web1', 'gone', 'alice', 2)).toBe(false);
        expect((await repo.keysOf('web1', 0)).map((k) => [k.keyId, k.status])).toEqual([['k1', 'accepted']]);
      });

      it('a key still pending when it is pre-accepted (an accept that raced a heartbeat) is accepted at its next heartbeat', async () => {
        const { repo } = await open();
        const opts = { accept: false, labels: { a: 'b' }, maxPendingPerHost: 4, maxPending: 100, pendingHeardSince: 0 };
        const k1 = { host: 'web1', keyId: 'k1', publicKey: 'p' };
        await recordSeen(repo, k1, { ...opts, at: 1, sentAt: 1 });
        await repo.preAccept('web1', 'k1', 'alice', 2);
        expect(await recordSeen(repo, k1, { ...opts, at: 2, sentAt: 1 })).toEqual({ stale: true }); // a replay accepts nothing
        expect(await recordSeen(repo, k1, { ...opts, at: 3, sentAt: 3 })).toEqual({
          preAccepted: { by: 'alice', replaced: null },
        });
        expect(await repo.listPreAccepted()).toEqual([]);
        expect(await repo.listAccepted()).toEqual([
          expect.objectContaining({ keyId: 'k1', firstSeenAt: 3, lastSentAt: 3, acceptedLabels: { a: 'b' } }),
        ]);
        expect(await recordSeen(repo, k1, { ...opts, at: 4, sentAt: 4 })).toEqual({ known: 'accepted' });
      });
    });
  });
}
