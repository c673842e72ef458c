import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { describeHostKeyBatchContract } from './host-keys.batch.contract';
import { describeHostKeysContract } from './host-keys.contract';
import { announced, openSqliteHostKeys, setup } from './host-keys.fixtures';
import { HostKeysStore, MAX_PENDING_KEYS } from './host-keys.store';
import { migrateSqlite } from '../store/migrations/sqlite-migrator';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';

describeHostKeysContract('SqliteHostKeyRepository', openSqliteHostKeys);
describeHostKeyBatchContract('SqliteHostKeyRepository', openSqliteHostKeys);

describe('HostKeysStore over the SQLite repository at the default bounds', () => {
  it(`${MAX_PENDING_KEYS} forged pending keys do not stop a new host joining: the least recently heard one goes`, async () => {
    const { clock, keys } = await setup();
    for (let i = 0; i < MAX_PENDING_KEYS; i++) {
      await keys.seen(`junk${i}`, 'p', `SHA256:junk${i}`, false);
      clock.advance(1);
    }
    clock.advance(1_000);
    const real = announced();
    await keys.seen('db1', real.publicKey, real.keyId, false);
    expect(await keys.view('db1')).toEqual({ trust: 'pending', keyId: null, pendingKeyIds: [real.keyId] });
    expect((await keys.view('junk0')).trust).toBe('unknown'); // heard least recently: evicted
    expect((await keys.view('junk1')).trust).toBe('pending');
    expect(await keys.accept('db1', undefined, 'alice')).toMatchObject({ keyId: real.keyId });
  }, 60_000); // 10,000 heartbeats, one transaction each: seconds on a loaded machine
});

describe('SqliteHostKeyRepository on a file from before labels and sentAt were recorded', () => {
  it('adds the columns, keeps the accepted key, and accepts the labels of its first heartbeat after the upgrade only', async () => {
    const db = openDatabase(':memory:', { migrate: false });
    db.exec(`CREATE TABLE host_keys (
      host TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'retired')),
      first_seen_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, accepted_at INTEGER, accepted_by TEXT,
      PRIMARY KEY (host, key_id))`);
    const a = announced();
    db.prepare(`INSERT INTO host_keys VALUES ('web1', ?, ?, 'accepted', 1, 1, 1, 'alice')`).run(a.keyId, a.publicKey);
    migrateSqlite(db);
    const keys = new HostKeysStore(new SqliteHostKeyRepository(db), new ManualClock(10_000));
    await keys.onModuleInit();
    expect(keys.isAccepted('web1')).toBe(true);
    expect(keys.acceptedLabels('web1')).toEqual({});
    await keys.seen('web1', a.publicKey, a.keyId, false, { sentAt: 5, labels: { role: 'web' } });
    await keys.seen('web1', a.publicKey, a.keyId, false, { sentAt: 6, labels: { role: 'db' } });
    expect(keys.acceptedLabels('web1')).toEqual({ role: 'web' });
  });
});

describe('HostKeysStore.seenMany when reading a key another controller accepted fails after the commit', () => {
  it('keeps the batch: the others are accepted, told to the listeners and returned; the failed read is not thrown', async () => {
    const db = openDatabase(':memory:');
    const repoA = new SqliteHostKeyRepository(db);
    const a = new HostKeysStore(repoA, new ManualClock(10_000));
    const b = new HostKeysStore(new SqliteHostKeyRepository(db), new ManualClock(10_000));
    await a.onModuleInit();
    await b.onModuleInit();
    const [kx, ky] = [announced(), announced()];
    await b.seen('x', kx.publicKey, kx.keyId, true, { sentAt: 1 }); // accepted through "another controller"
    const told: string[] = [];
    a.onChanged((h) => told.push(h));
    repoA.keysOf = () => Promise.reject(new Error('connection reset')); // the read after the commit fails
    const seen = await a.seenMany(
      [
        { host: 'x', ...kx, sentAt: 2 },
        { host: 'y', ...ky, sentAt: 1 },
      ],
      true,
    );
    expect(seen.map((s) => s.result)).toEqual(['accepted', 'auto-accepted']);
    expect(a.isAccepted('y')).toBe(true);
    expect(told).toEqual(['y']);
  });
});
