import { ManualClock } from '@warren/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, type MigratedDatabase, unreachablePool } from '../../../../test/support/pg-schema';
import { isDatabaseUnavailable, type PgPool } from '../store/postgres/pg.database';
import { describeHostKeyBatchContract } from './host-keys.batch.contract';
import { describeHostKeysContract } from './host-keys.contract';
import { announced, type OpenHostKeys, recordSeen } from './host-keys.fixtures';
import { describeHostKeyPreAcceptContract } from './host-keys.pre-accept.contract';
import type { RecordSeenOptions } from './host-keys.port';
import { HostKeysStore } from './host-keys.store';
import { PgHostKeyRepository } from './pg-host-key.repository';

let pg: MigratedDatabase;
/** A second pool on the database: a second controller. */
let poolB: PgPool;
beforeAll(async () => {
  pg = await migratedDatabase('host_keys');
  poolB = pg.openPool();
});
afterAll(async () => {
  await pg?.close();
});

const TABLES = ['host_keys', 'host_key_rejections', 'host_key_pre_accepts'];

/** Empty tables, a repository on the first pool and another (the restarted or second controller) on the second. */
const openPg: OpenHostKeys = async () => {
  await pg.truncate(...TABLES);
  // A transaction checks a client out (`connect`); a statement outside one goes through `query`.
  let begun = 0;
  const counted = Object.create(pg.pool) as PgPool;
  counted.connect = (() => {
    begun++;
    return pg.pool.connect();
  }) as PgPool['connect'];
  counted.query = ((...args: Parameters<PgPool['query']>) => {
    begun++;
    return pg.pool.query(...args);
  }) as PgPool['query'];
  return {
    repo: new PgHostKeyRepository(counted),
    reopen: () => new PgHostKeyRepository(poolB),
    transactions: () => begun,
  };
};

describeHostKeysContract('PgHostKeyRepository', openPg);
describeHostKeyPreAcceptContract('PgHostKeyRepository', openPg);
describeHostKeyBatchContract('PgHostKeyRepository', openPg);

describe('PgHostKeyRepository: two controllers on one database (two pools)', () => {
  const opts: RecordSeenOptions = {
    accept: false,
    at: 1,
    labels: {},
    maxPendingPerHost: 4,
    maxPending: 10_000,
    pendingHeardSince: 0,
  };
  const HOSTS = Array.from({ length: 30 }, (_, i) => `web${i}`);

  async function accepted(host: string): Promise<string[]> {
    const { rows } = await pg.pool.query<{ key_id: string }>(
      `SELECT key_id FROM host_keys WHERE host = $1 AND status = 'accepted'`,
      [host],
    );
    return rows.map((r) => r.key_id);
  }

  it('both controllers hearing the same first heartbeat of a key: both succeed, one row, inserted once', async () => {
    await pg.truncate(...TABLES);
    const [a, b] = [new PgHostKeyRepository(pg.pool), new PgHostKeyRepository(poolB)];
    for (const accept of [false, true]) {
      await pg.truncate(...TABLES);
      const outcomes = await Promise.all(
        HOSTS.flatMap((host) =>
          [a, b].map((r) => recordSeen(r, { host, keyId: 'k1', publicKey: 'p' }, { ...opts, accept })),
        ),
      );
      const status = accept ? 'accepted' : 'pending';
      for (let i = 0; i < HOSTS.length; i++)
        expect([outcomes[2 * i], outcomes[2 * i + 1]]).toEqual(
          expect.arrayContaining([{ inserted: status, evicted: [] }, { known: status }]),
        );
      expect(await a.listKeys(0)).toHaveLength(HOSTS.length);
    }
  });

  it('both controllers recording batches of the same hosts in opposite orders at once: both succeed, each key inserted once', async () => {
    const [a, b] = [new PgHostKeyRepository(pg.pool), new PgHostKeyRepository(poolB)];
    const items = HOSTS.map((host) => ({
      key: { host, keyId: 'k1', publicKey: 'p' },
      opts: { ...opts, accept: true },
    }));
    for (let round = 0; round < 3; round++) {
      await pg.truncate(...TABLES);
      const [x, y] = await Promise.all([a.recordSeenMany(items), b.recordSeenMany([...items].reverse())]);
      for (let i = 0; i < HOSTS.length; i++)
        expect([x[i], y[HOSTS.length - 1 - i]]).toEqual(
          expect.arrayContaining([{ inserted: 'accepted', evicted: [] }, { known: 'accepted' }]),
        );
      expect(await a.listAccepted()).toHaveLength(HOSTS.length);
    }
  });

  it('an operator accepting on A while B auto-accepts a new key of the same host: both succeed, one accepted key', async () => {
    await pg.truncate(...TABLES);
    const [a, b] = [new PgHostKeyRepository(pg.pool), new PgHostKeyRepository(poolB)];
    for (const host of HOSTS) await recordSeen(a, { host, keyId: 'operator', publicKey: 'p' }, opts);
    const results = await Promise.all(
      HOSTS.flatMap((host) => [
        a.accept(host, 'operator', 'alice', 2),
        recordSeen(b, { host, keyId: 'auto', publicKey: 'p' }, { ...opts, at: 2, accept: true }),
      ]),
    );
    for (let i = 0; i < HOSTS.length; i++) expect(results[2 * i]).toBe(true);
    for (const host of HOSTS) expect(await accepted(host)).toHaveLength(1);
  });

  it('new keys heard at once on both controllers: each eviction done once, and no more pending keys than the bound', async () => {
    await pg.truncate(...TABLES);
    const [a, b] = [new PgHostKeyRepository(pg.pool), new PgHostKeyRepository(poolB)];
    const bounded = { ...opts, maxPending: 10 };
    const hosts = Array.from({ length: 80 }, (_, i) => `junk${i}`);
    const outcomes = await Promise.all(
      hosts.map((host, i) => recordSeen(i % 2 ? a : b, { host, keyId: 'k', publicKey: 'p' }, { ...bounded, at: i })),
    );
    const evicted = outcomes.flatMap((o) => ('evicted' in o ? o.evicted.map((e) => e.host) : []));
    expect(new Set(evicted).size).toBe(evicted.length); // no key evicted by two controllers
    expect(await a.listKeys(0)).toHaveLength(10);
    expect(evicted.length).toBe(hosts.length - 10);
  });

  it('a key accepted through A is listed accepted through B, and trusted by a store B loads then', async () => {
    // A store loaded before the accept keeps its cache: telling it is the runtime's part (issue 13, H4).
    await pg.truncate(...TABLES);
    const clock = new ManualClock(10_000);
    const a = new HostKeysStore(new PgHostKeyRepository(pg.pool), clock);
    await a.onModuleInit();
    const k = announced();
    await a.seen('db1', k.publicKey, k.keyId, false);
    await recordSeen(
      new PgHostKeyRepository(poolB),
      { host: 'db1', keyId: k.keyId, publicKey: k.publicKey },
      { ...opts, at: clock.now() },
    );
    expect(await a.accept('db1', undefined, 'alice')).toMatchObject({ keyId: k.keyId, accepted: 'key' });
    const repoB = new PgHostKeyRepository(poolB);
    expect((await repoB.listAccepted()).map((r) => [r.host, r.keyId, r.status])).toEqual([
      ['db1', k.keyId, 'accepted'],
    ]);
    const b = new HostKeysStore(repoB, clock);
    await b.onModuleInit();
    expect(b.acceptedKey(k.keyId)?.host).toBe('db1');
    expect(await b.view('db1')).toEqual({ trust: 'accepted', keyId: k.keyId, pendingKeyIds: [] });
    expect((await b.seen('db1', k.publicKey, k.keyId, false)).result).toBe('accepted');
  });
});

describe('PgHostKeyRepository while the database is down', () => {
  it('rejects a heartbeat, an accept and a listing with an error that says so, and never hangs', async () => {
    const away = unreachablePool();
    try {
      const repo = new PgHostKeyRepository(away);
      const opts = { accept: true, at: 1, labels: {}, maxPendingPerHost: 4, maxPending: 10, pendingHeardSince: 0 };
      for (const call of [
        () => recordSeen(repo, { host: 'web1', keyId: 'k', publicKey: 'p' }, opts),
        () => repo.accept('web1', 'k', 'alice', 1),
        () => repo.listAccepted(),
      ]) {
        const err = await call().catch((e: unknown) => e);
        expect(isDatabaseUnavailable(err)).toBe(true);
      }
    } finally {
      await away.end();
    }
  });
});
