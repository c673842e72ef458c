import { ManualClock } from '@warren/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { AggregatingAuditLog } from './aggregating-audit.log';
import type { AuditEvent } from './audit.port';
import { SqliteAuditLog } from './sqlite-audit.log';

const forged = (i: number): AuditEvent => ({
  actor: `agent:fake${i}`,
  source: 'broker',
  action: 'host.key.seen',
  decision: 'denied',
  reason: 'key pending acceptance',
  hosts: [`fake${i}`],
  detail: { keyId: `k${i}` },
  repeatKey: 'key pending acceptance',
});

describe('AggregatingAuditLog', () => {
  let clock: ManualClock;
  let store: SqliteAuditLog;
  let log: AggregatingAuditLog;

  beforeEach(() => {
    clock = new ManualClock();
    store = new SqliteAuditLog(openDatabase(':memory:'), clock);
    log = new AggregatingAuditLog(store, clock, { intervalMs: 60_000, maxOpen: 100, maxHosts: 5 });
  });

  it('writes 1,000 repeats of one refusal as a handful of records whose counts sum to 1,000', async () => {
    for (let i = 0; i < 1000; i++) {
      await log.record(forged(i));
      if (i % 100 === 99) clock.advance(15_000); // 1,000 over 2.5 minutes
    }
    await log.flush();
    const records = await store.query({ limit: 5000 });
    expect(records.length).toBeLessThanOrEqual(6);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
    const summary = records.find((r) => r.count > 1)!;
    expect(summary).toMatchObject({ actor: expect.stringMatching(/^\(\d+ actors\)$/), source: 'broker' });
    expect(summary.hosts.length).toBeLessThanOrEqual(5);
    expect(summary.detail).toMatchObject({ repeatedSince: expect.any(String) });
  });

  it('records the first of an interval at once, and its repeats when the interval ends', async () => {
    await log.record(forged(1));
    await log.record(forged(2));
    await log.record(forged(3));
    expect((await log.query({ limit: 10 })).map((r) => r.count)).toEqual([1]);
    clock.advance(59_999);
    expect(await log.query({ limit: 10 })).toHaveLength(1);
    clock.advance(1);
    expect((await log.query({ limit: 10 })).map((r) => r.count)).toEqual([2, 1]);
  });

  it('keeps apart refusals of other sources, actions or repeat keys, and passes everything else through', async () => {
    const e = forged(1);
    await log.record(e);
    await log.record({ ...e, source: '10.0.0.1' });
    await log.record({ ...e, action: 'host.key.changed' });
    await log.record({ ...e, repeatKey: 'other' });
    const plain: AuditEvent = { actor: 'admin', source: '10.0.0.2', action: 'task.create', decision: 'allowed' };
    await log.record(plain);
    await log.record(plain);
    expect((await store.query({ limit: 10 })).map((r) => r.count)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('keeps at most maxOpen intervals open: a flood of distinct kinds writes the oldest out, and memory stays bounded', async () => {
    for (let i = 0; i < 10_000; i++) {
      const e = { ...forged(i), source: `10.0.${i >> 8}.${i & 255}`, repeatKey: `k${i}` };
      await log.record(e);
      await log.record(e);
      expect(log.size).toBeLessThanOrEqual(100);
    }
    await log.flush();
    expect(log.size).toBe(0);
    const records = await store.query({ limit: 30_000 });
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(20_000);
  });

  it('after flush (shutdown) writes each refusal as it comes: no count is left unwritten', async () => {
    await log.record(forged(1));
    await log.record(forged(2));
    await log.flush();
    await log.record(forged(3));
    await log.record(forged(4));
    expect((await store.query({ limit: 10 })).map((r) => r.count)).toEqual([1, 1, 1, 1]);
  });

  it('folds the repeats of a batch and writes what is left of it to the store in one write, in order', async () => {
    const writes: AuditEvent[][] = [];
    const recordMany = store.recordMany.bind(store);
    store.recordMany = async (events) => {
      writes.push([...events]);
      return recordMany(events);
    };
    const allowed: AuditEvent = { actor: 'controller', source: 'broker', action: 'host.accept', decision: 'allowed' };
    await log.recordMany([forged(1), { ...allowed, hosts: ['a'] }, forged(2), forged(3), { ...allowed, hosts: ['b'] }]);
    expect(writes.map((w) => w.map((e) => [e.action, e.hosts]))).toEqual([
      [
        ['host.key.seen', ['fake1']],
        ['host.accept', ['a']],
        ['host.accept', ['b']],
      ],
    ]);
    clock.advance(60_000);
    await log.flush();
    expect(writes[1]).toEqual([expect.objectContaining({ action: 'host.key.seen', count: 2 })]);
  });
});
