import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { SqliteTokenStore } from './token.store';
import type { StoredToken } from './token-store.port';

const alice: StoredToken = {
  id: 'id1',
  name: 'alice',
  role: 'operator',
  hostPatterns: ['web*'],
  createdAt: 1_000,
  lastUsedAt: null,
  revokedAt: null,
  hash: 'h1',
};

describe('SqliteTokenStore', () => {
  it('stores a token and finds it by id and by name, with its hash; lists it without', async () => {
    const store = new SqliteTokenStore(openDatabase(':memory:'));
    await store.insert(alice);
    expect(await store.findById('id1')).toEqual(alice);
    expect(await store.findByName('alice')).toEqual(alice);
    expect(await store.findById('nope')).toBeNull();
    const { hash: _hash, ...listed } = alice;
    expect(await store.list()).toEqual([listed]);
  });

  it('refuses a second token of the same name, revoked or not', async () => {
    const store = new SqliteTokenStore(openDatabase(':memory:'));
    await store.insert({ ...alice, revokedAt: 2_000 });
    await expect(store.insert({ ...alice, id: 'id2' })).rejects.toThrow(/UNIQUE/);
  });

  it('revokes once, at the time given, and records the last use', async () => {
    const store = new SqliteTokenStore(openDatabase(':memory:'));
    await store.insert(alice);
    expect(await store.revoke('alice', 5_000)).toBe(true);
    expect(await store.revoke('alice', 6_000)).toBe(false);
    expect(await store.revoke('bob', 6_000)).toBe(false);
    await store.touch('id1', 7_000);
    expect(await store.findByName('alice')).toMatchObject({ revokedAt: 5_000, lastUsedAt: 7_000 });
  });
});
