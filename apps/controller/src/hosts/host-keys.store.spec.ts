import { generateSigningKey } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { HostKeyError } from '../errors/errors';
import { HostKeysStore } from './host-keys.store';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';

/** A fresh key as a heartbeat announces it: base64 SPKI and fingerprint. */
function announced() {
  const k = generateSigningKey();
  return { publicKey: k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), keyId: k.keyId };
}

async function setup() {
  const db = openDatabase(':memory:');
  const clock = new ManualClock(10_000);
  const repo = new SqliteHostKeyRepository(db);
  const keys = new HostKeysStore(repo, clock);
  await keys.onModuleInit();
  return { db, clock, repo, keys };
}

describe('HostKeysStore over the SQLite repository', () => {
  it('records a new key pending, accepts it on request, and still trusts it after a restart', async () => {
    const { db, clock, repo, keys } = await setup();
    const a = announced();
    expect(await keys.seen('web1', a.publicKey, a.keyId, false)).toBe('new-pending');
    clock.advance(5_000);
    expect(await keys.seen('web1', a.publicKey, a.keyId, false)).toBe('pending');
    expect(await repo.keysOf('web1')).toEqual([
      {
        host: 'web1',
        keyId: a.keyId,
        publicKey: a.publicKey,
        status: 'pending',
        firstSeenAt: 10_000,
        lastSeenAt: 15_000,
      },
    ]);
    expect(keys.acceptedKey(a.keyId)).toBeNull();
    expect(await keys.accept('web1', undefined, 'alice')).toEqual({ keyId: a.keyId, replaced: null });
    expect(keys.acceptedKey(a.keyId)?.host).toBe('web1');
    expect(await keys.view('web1')).toEqual({ trust: 'accepted', keyId: a.keyId, pendingKeyIds: [] });

    const restarted = new HostKeysStore(new SqliteHostKeyRepository(db), clock);
    await restarted.onModuleInit();
    expect(restarted.isAccepted('web1')).toBe(true);
    expect(restarted.acceptedKey(a.keyId)?.host).toBe('web1');
  });

  it('auto-accepts only a first key; a later one is a change that replaces it only when accepted', async () => {
    const { keys } = await setup();
    const [a, b] = [announced(), announced()];
    expect(await keys.seen('web1', a.publicKey, a.keyId, true)).toBe('auto-accepted');
    expect(await keys.seen('web1', b.publicKey, b.keyId, true)).toBe('changed');
    expect(await keys.seen('web1', b.publicKey, b.keyId, true)).toBe('changed');
    expect(await keys.view('web1')).toEqual({ trust: 'changed', keyId: a.keyId, pendingKeyIds: [b.keyId] });
    expect(await keys.accept('web1', b.keyId, 'alice')).toEqual({ keyId: b.keyId, replaced: a.keyId });
    expect(keys.acceptedKey(a.keyId)).toBeNull();
    expect(await keys.seen('web1', a.publicKey, a.keyId, true)).toBe('changed'); // the retired key stays out
    expect(await keys.view('web1')).toEqual({ trust: 'accepted', keyId: b.keyId, pendingKeyIds: [] });
  });

  it('refuses to accept nothing, or one of several pending keys not named', async () => {
    const { keys } = await setup();
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
  /** The SQLite repository, each call answered on a later turn of the event loop. */
  function slow(repo: SqliteHostKeyRepository): SqliteHostKeyRepository {
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
    const db = openDatabase(':memory:');
    const repo = new SqliteHostKeyRepository(db);
    const keys = new HostKeysStore(slow(repo), new ManualClock(10_000));
    const [a, b] = [announced(), announced()];
    await keys.seen('web1', a.publicKey, a.keyId, false);
    await keys.seen('web1', b.publicKey, b.keyId, false);
    const [first, second] = await Promise.all([
      keys.accept('web1', a.keyId, 'alice'),
      keys.accept('web1', b.keyId, 'bob'),
    ]);
    expect(first).toEqual({ keyId: a.keyId, replaced: null });
    expect(second).toEqual({ keyId: b.keyId, replaced: a.keyId });
    expect(keys.acceptedKey(a.keyId)).toBeNull();
    expect(keys.acceptedKey(b.keyId)?.host).toBe('web1');
    expect((await repo.keysOf('web1')).map((k) => [k.keyId, k.status])).toEqual([[b.keyId, 'accepted']]);
  });
});

describe('SqliteHostKeyRepository', () => {
  it('refuses a new pending key over the per-host bound, but not an accepted one', async () => {
    const repo = new SqliteHostKeyRepository(openDatabase(':memory:'));
    const opts = { accept: false, at: 1, maxPendingPerHost: 2, maxPending: 100 };
    const key = (n: number) => ({ host: 'web1', keyId: `k${n}`, publicKey: 'p' });
    expect(await repo.recordSeen(key(1), opts)).toEqual({ inserted: 'pending' });
    expect(await repo.recordSeen(key(2), opts)).toEqual({ inserted: 'pending' });
    expect(await repo.recordSeen(key(3), opts)).toEqual({ refused: 'too-many-pending' });
    expect(await repo.recordSeen(key(1), opts)).toEqual({ known: 'pending' });
    expect(await repo.recordSeen(key(3), { ...opts, accept: true })).toEqual({ inserted: 'accepted' });
    expect((await repo.listAccepted()).map((r) => r.keyId)).toEqual(['k3']);
  });

  it('accepts one key of a host and retires the one it replaces, at once', async () => {
    const repo = new SqliteHostKeyRepository(openDatabase(':memory:'));
    const opts = { accept: false, at: 1, maxPendingPerHost: 4, maxPending: 100 };
    await repo.recordSeen({ host: 'web1', keyId: 'k1', publicKey: 'p' }, { ...opts, accept: true });
    await repo.recordSeen({ host: 'web1', keyId: 'k2', publicKey: 'p' }, opts);
    await repo.accept('web1', 'k2', 'alice', 2);
    expect((await repo.listAccepted()).map((r) => r.keyId)).toEqual(['k2']);
    expect((await repo.keysOf('web1')).map((r) => [r.keyId, r.status])).toEqual([['k2', 'accepted']]);
  });
});
