import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, type MigratedDatabase, unreachablePool } from '../../../../test/support/pg-schema';
import { isDatabaseUnavailable } from '../store/postgres/pg.database';
import { PgTokenStore } from './pg-token.store';
import { describeTokenStoreContract } from './token.store.contract';
import type { StoredToken } from './token-store.port';

let pg: MigratedDatabase;
beforeAll(async () => {
  pg = await migratedDatabase('tokens');
});
afterAll(async () => {
  await pg?.close();
});

describeTokenStoreContract('PgTokenStore', async () => {
  await pg.truncate('api_tokens');
  return new PgTokenStore(pg.pool);
});

describe('PgTokenStore: two controllers on one database (two pools)', () => {
  const bob: StoredToken = {
    id: 'id-bob',
    name: 'bob',
    role: 'viewer',
    hostPatterns: null,
    createdAt: 1_000,
    lastUsedAt: null,
    revokedAt: null,
    hash: 'hb',
  };

  it('finds through B a token created through A, sees through B its revocation through A, and through A its use on B', async () => {
    await pg.truncate('api_tokens');
    const [a, b] = [new PgTokenStore(pg.pool), new PgTokenStore(pg.openPool())];
    await a.insert(bob);
    expect(await b.findById('id-bob')).toEqual(bob);
    expect(await a.revoke('bob', 2_000)).toBe(true);
    expect(await b.findById('id-bob')).toMatchObject({ revokedAt: 2_000 });
    expect(await b.revoke('bob', 3_000)).toBe(false); // revoked once, whichever controller asks again
    await b.touch('id-bob', 4_000);
    expect((await a.list()).map((t) => [t.name, t.revokedAt, t.lastUsedAt])).toEqual([['bob', 2_000, 4_000]]);
  });

  it('two controllers creating one name at once: one token is stored, the other insert rejects', async () => {
    await pg.truncate('api_tokens');
    const [a, b] = [new PgTokenStore(pg.pool), new PgTokenStore(pg.openPool())];
    const outcomes = await Promise.allSettled([a.insert(bob), b.insert({ ...bob, id: 'id-bob2' })]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await a.list()).toHaveLength(1);
  });
});

describe('PgTokenStore while the database is down', () => {
  it('rejects every call with an error that says so (the HTTP layer answers 503), and never hangs', async () => {
    const away = unreachablePool();
    try {
      const store = new PgTokenStore(away);
      for (const call of [() => store.findById('id1'), () => store.list(), () => store.revoke('bob', 1)]) {
        const err = await call().catch((e: unknown) => e);
        expect(isDatabaseUnavailable(err)).toBe(true);
      }
    } finally {
      await away.end();
    }
  });
});
