import { describe, expect, it } from 'vitest';
import type { StoredToken, TokenStore } from './token-store.port';

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

/**
 * The behaviour every {@link TokenStore} adapter shares. `open` gives a store over empty storage
 * (a fresh one for each test).
 */
export function describeTokenStoreContract(label: string, open: () => Promise<TokenStore>): void {
  describe(`${label} (TokenStore contract)`, () => {
    it('stores a token and finds it by id and by name, with its hash; lists it without', async () => {
      const store = await open();
      await store.insert(alice);
      expect(await store.findById('id1')).toEqual(alice);
      expect(await store.findByName('alice')).toEqual(alice);
      expect(await store.findById('nope')).toBeNull();
      expect(await store.findByName('nope')).toBeNull();
      const { hash: _hash, ...listed } = alice;
      expect(await store.list()).toEqual([listed]);
    });

    it('keeps a token for every host (no patterns) as null, not as an empty list', async () => {
      const store = await open();
      await store.insert({ ...alice, hostPatterns: null, role: 'admin' });
      expect(await store.findById('id1')).toMatchObject({ hostPatterns: null, role: 'admin' });
    });

    it('refuses a second token of the same name, revoked or not, and one of a taken id', async () => {
      const store = await open();
      await store.insert({ ...alice, revokedAt: 2_000 });
      await expect(store.insert({ ...alice, id: 'id2' })).rejects.toThrow(/unique/i);
      await expect(store.insert({ ...alice, name: 'bob' })).rejects.toThrow(/unique/i);
      expect(await store.list()).toHaveLength(1);
    });

    it('lists oldest first, then by name bytewise', async () => {
      const store = await open();
      await store.insert({ ...alice, id: 'i3', name: 'zoe', createdAt: 1 });
      await store.insert({ ...alice, id: 'i2', name: 'bob', createdAt: 2 });
      await store.insert({ ...alice, id: 'i1', name: 'Carl', createdAt: 2 });
      expect((await store.list()).map((t) => t.name)).toEqual(['zoe', 'Carl', 'bob']);
    });

    it('revokes once, at the time given, and records the last use', async () => {
      const store = await open();
      await store.insert(alice);
      expect(await store.revoke('alice', 5_000)).toBe(true);
      expect(await store.revoke('alice', 6_000)).toBe(false);
      expect(await store.revoke('bob', 6_000)).toBe(false);
      await store.touch('id1', 7_000);
      await store.touch('nope', 7_000);
      expect(await store.findByName('alice')).toMatchObject({ revokedAt: 5_000, lastUsedAt: 7_000 });
    });
  });
}
