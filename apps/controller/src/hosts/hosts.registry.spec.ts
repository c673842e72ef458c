import { encode, generateSigningKey, type PresenceMessage, signBody } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AggregatingAuditLog } from '../audit/aggregating-audit.log';
import type { AuditEvent, AuditLog } from '../audit/audit.port';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { openDatabase } from '../store/database';
import { SqlitePresenceStore } from './sqlite-presence.store';
import { HostKeysStore, MAX_PENDING_KEYS_PER_HOST } from './host-keys.store';
import { HEARTBEAT_SKEW_MS } from './heartbeat.verifier';
import { HEARTBEAT_BATCH, HostsRegistry } from './hosts.registry';
import { TargetResolver } from '../tasks/target.resolver';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';
import type { HostKeyRepository } from './host-keys.port';

const clock = new ManualClock();

/** A heartbeat of `host`, signed with the key it announces. */
function heartbeat(host: string, key = generateSigningKey(), over: Partial<PresenceMessage> = {}) {
  const m: PresenceMessage = {
    v: 1,
    kind: 'presence',
    host,
    status: 'online',
    labels: {},
    version: '0.1.0',
    running: 0,
    concurrency: 4,
    intervalMs: 1000,
    sentAt: clock.now(),
    publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    ...over,
  };
  const content = encode(m);
  return { content, properties: { headers: signBody(content, key) }, key };
}

function registry(
  autoAccept: boolean,
  db = openDatabase(':memory:'),
  auditLog?: AuditLog,
  repo: HostKeyRepository = new SqliteHostKeyRepository(db),
) {
  const keys = new HostKeysStore(repo, clock);
  const audit: AuditEvent[] = [];
  const r = new HostsRegistry(
    {} as BrokerService,
    keys,
    { autoAccept } as ControllerConfig,
    auditLog ?? {
      record: async (e) => void audit.push(e),
      recordMany: async (es) => void audit.push(...es),
      query: async () => [],
    },
    pino({ level: 'silent' }),
    clock,
    new SqlitePresenceStore(db),
  );
  const receive = (d: { content: Buffer; properties: object }, now = clock.now()) =>
    (r as unknown as { receive(batch: unknown[]): Promise<void> }).receive([{ m: d, at: now }]);
  return { r, keys, audit, receive };
}

describe('HostsRegistry', () => {
  it('ignores a replayed heartbeat or goodbye (not newer than the last one of that key)', async () => {
    const { r, receive } = registry(true);
    const key = generateSigningKey();
    const t = clock.now();
    const goodbye = heartbeat('web1', key, { status: 'goodbye', sentAt: t - 5000 });
    await receive(heartbeat('web1', key, { sentAt: t }), t);
    expect((await r.list(t))[0]).toMatchObject({ host: 'web1', status: 'online', trust: 'accepted' });
    await receive(goodbye, t + 10); // captured earlier, played now
    expect((await r.list(t + 10))[0].status).toBe('online');
    await receive(heartbeat('web1', key, { status: 'goodbye', sentAt: t + 20 }), t + 20);
    expect((await r.list(t + 20))[0].status).toBe('offline');
  });

  it(`records at most ${MAX_PENDING_KEYS_PER_HOST} pending keys per host name, whatever a flood of heartbeats announces, and always the one heard last`, async () => {
    const { r, keys, receive } = registry(false);
    for (let i = 0; i < 20; i++) await receive(heartbeat('web1'));
    const last = heartbeat('web1');
    await receive(last);
    expect(await keys.view('web1')).toMatchObject({ trust: 'pending' });
    expect((await keys.view('web1')).pendingKeyIds).toHaveLength(MAX_PENDING_KEYS_PER_HOST);
    expect((await keys.view('web1')).pendingKeyIds).toContain(last.key.keyId);
    expect(await r.list()).toHaveLength(1);
  });

  it('refuses a heartbeat not signed by the key it carries', async () => {
    const { r, receive } = registry(true);
    const h = heartbeat('web1');
    await receive({ content: h.content, properties: { headers: signBody(h.content, generateSigningKey()) } });
    expect(await r.list()).toEqual([]);
  });

  it('after a controller restart, a captured heartbeat played again shows no dead host online nor targets it', async () => {
    const db = openDatabase(':memory:');
    const before = registry(true, db);
    await before.keys.onModuleInit();
    const key = generateSigningKey();
    const t = clock.now();
    const captured = heartbeat('web1', key, { sentAt: t, labels: { role: 'web' } });
    await before.receive(captured, t);
    await before.receive(heartbeat('web1', key, { sentAt: t + 1000, labels: { role: 'web' } }), t + 1000);
    await before.r.flushPresence();
    // web1 dies; the controller restarts; the attacker plays the captured heartbeat again.
    for (const [later, copy] of [
      [t + 2_000, captured], // within the presence window: older than the newest recorded
      [t + 3_600_000, heartbeat('web1', key, { sentAt: t + 1000, labels: { role: 'web' } })], // the newest, an hour on
    ] as const) {
      const after = registry(true, db);
      await after.keys.onModuleInit();
      await after.r.restore();
      await after.receive(copy, later);
      expect(after.r.onlineHosts(later)).toEqual([]);
      await expect(new TargetResolver(after.r).resolve({ all: true })).rejects.toThrow(/no host matches/);
      await after.r.stop();
    }
  });

  it('ignores a heartbeat signed as sent beyond the presence window (or the skew) of the controller clock', async () => {
    const { r, receive } = registry(true);
    const t = clock.now();
    const old = t - 3 * 1000 - HEARTBEAT_SKEW_MS - 1; // three 1 s intervals, plus the skew
    await receive(heartbeat('web1', generateSigningKey(), { sentAt: old }), t);
    await receive(heartbeat('web2', generateSigningKey(), { sentAt: t + HEARTBEAT_SKEW_MS + 1 }), t);
    await receive(heartbeat('web3', generateSigningKey(), { sentAt: t + HEARTBEAT_SKEW_MS }), t); // a clock ahead
    expect((await r.list(t)).map((h) => h.host)).toEqual(['web3']);
  });

  it('targets an accepted host by the labels accepted with its key, not by a role it claims later', async () => {
    const { r, keys, receive } = registry(false);
    const key = generateSigningKey();
    const t = clock.now();
    await receive(heartbeat('web1', key, { sentAt: t, labels: { role: 'web' } }), t);
    await keys.accept('web1', undefined, 'alice');
    await receive(heartbeat('web1', key, { sentAt: t + 1, labels: { role: 'db' } }), t + 1);
    const targets = new TargetResolver(r);
    await expect(targets.resolve({ labels: { role: 'db' } })).rejects.toThrow(/no host matches/);
    expect((await targets.resolve({ labels: { role: 'web' } })).hosts).toEqual(['web1']);
    expect((await r.list(t + 1))[0]).toMatchObject({ labels: { role: 'web' }, pendingLabels: { role: 'db' } });
    // Once an operator accepts the change, it counts.
    await keys.accept('web1', undefined, 'alice');
    expect((await targets.resolve({ labels: { role: 'db' } })).hosts).toEqual(['web1']);
    expect((await r.list(t + 1))[0]).toMatchObject({ labels: { role: 'db' }, pendingLabels: null });
  });

  it('drops a forged heartbeat whose labels or version are not data (escapes, bad keys): nothing of it is shown', async () => {
    const { r, audit, receive } = registry(true);
    const esc = '\u001b]52;c;cm0gLXJmIH4=\u0007';
    await receive(heartbeat('web1', undefined, { labels: { role: `db${esc}` } }));
    await receive(heartbeat('web2', undefined, { labels: { [`role${esc}`]: 'db' } }));
    await receive(heartbeat('web3', undefined, { version: `0.1.0${esc}` }));
    await receive(heartbeat('web4', undefined, { labels: { role: 'db\u009b2J' } }));
    expect(await r.list()).toEqual([]);
    expect(audit).toEqual([]);
    await receive(heartbeat('web5', undefined, { labels: { role: 'db' }, version: '0.2.0-rc.1' }));
    expect((await r.list()).map((h) => [h.host, h.labels, h.version])).toEqual([
      ['web5', { role: 'db' }, '0.2.0-rc.1'],
    ]);
  });

  it('audits 1,000 fresh-key heartbeats as a handful of records whose counts sum to 1,000', async () => {
    const log = new AggregatingAuditLog(new SqliteAuditLog(openDatabase(':memory:'), clock), clock);
    const { receive } = registry(false, undefined, log);
    for (let i = 0; i < 1000; i++) await receive(heartbeat(`fake${i}`));
    clock.advance(60_000);
    const records = await log.query({ limit: 2000 });
    expect(records.map((r) => r.action)).toEqual(['host.key.seen', 'host.key.seen']);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
    expect(records[0]).toMatchObject({ actor: '(999 actors)', count: 999, source: 'broker' });
    expect(records[0].hosts.length).toBeLessThanOrEqual(50);
  }, 60_000);

  it('forgets a host whose key is not accepted after a day unheard, and keeps an accepted one', async () => {
    const { r, keys, receive } = registry(false);
    const key = generateSigningKey();
    await receive(heartbeat('web1', key));
    await keys.accept('web1', key.keyId, 'admin');
    await receive(heartbeat('fake1'));
    clock.advance(24 * 3600_000);
    await receive(heartbeat('web2'));
    expect((await r.list()).map((h) => h.host)).toEqual(['web1', 'web2']);
  });

  it('after a restart lists every host heard before, from the store, with its last-seen time, offline until heard', async () => {
    const db = openDatabase(':memory:');
    const before = registry(true, db);
    const t = clock.now();
    await before.receive(heartbeat('web1', undefined, { labels: { role: 'web' } }), t);
    await before.receive(heartbeat('web2', undefined, { status: 'goodbye' }), t);
    await before.r.flushPresence();
    const after = registry(true, db);
    await after.keys.onModuleInit();
    await after.r.restore();
    try {
      const later = t + 60_000;
      expect((await after.r.list(later)).map((h) => [h.host, h.status, h.lastSeen, h.trust])).toEqual([
        ['web1', 'offline', new Date(t).toISOString(), 'accepted'],
        ['web2', 'offline', new Date(t).toISOString(), 'accepted'],
      ]);
      expect(after.r.known().map((h) => h.host)).toEqual(['web1', 'web2']);
    } finally {
      await after.r.stop();
    }
  });

  it('forgets through the store what it forgets in memory: a restart does not bring it back', async () => {
    const db = openDatabase(':memory:');
    const { r, keys, receive } = registry(false, db);
    const key = generateSigningKey();
    await receive(heartbeat('web1', key));
    await keys.accept('web1', key.keyId, 'admin');
    await receive(heartbeat('fake1'));
    await r.flushPresence();
    clock.advance(24 * 3600_000);
    await receive(heartbeat('web2'));
    await r.flushPresence();
    expect((await new SqlitePresenceStore(db).list()).map((h) => h.host)).toEqual(['web1', 'web2']);
    const after = registry(false, db);
    await after.keys.onModuleInit();
    await after.r.restore();
    try {
      expect((await after.r.list()).map((h) => h.host)).toEqual(['web1', 'web2']);
    } finally {
      await after.r.stop();
    }
  });

  it('counts a heartbeat another controller on the database recorded first, once, from the accepted key only', async () => {
    const db = openDatabase(':memory:');
    const a = registry(true, db);
    const b = registry(true, db);
    const key = generateSigningKey();
    const t = clock.now();
    const first = heartbeat('web1', key, { sentAt: t });
    await a.receive(first, t);
    await b.keys.reload('web1'); // as the changes fanout tells it
    await b.receive(first, t + 5); // the same heartbeat, read from B's own queue
    expect(b.r.onlineHosts(t + 5).map((h) => h.host)).toEqual(['web1']);
    const second = heartbeat('web1', key, { sentAt: t + 1000 });
    await a.receive(second, t + 1000);
    await b.receive(second, t + 1000);
    expect((await b.r.list(t + 1000))[0].lastSeen).toBe(new Date(t + 1000).toISOString());
    await b.receive(first, t + 4000); // a replay: not newer than what B has
    expect((await b.r.list(t + 4000))[0].lastSeen).toBe(new Date(t + 1000).toISOString());
    // Another key for web1, recorded first by A: not news for B, whose web1 has an accepted key.
    const impostor = heartbeat('web1', undefined, { sentAt: t + 5000 });
    await a.receive(impostor, t + 5000);
    await b.receive(impostor, t + 5000);
    expect((await b.r.list(t + 5000))[0].lastSeen).toBe(new Date(t + 1000).toISOString());
  });

  it('holds at most one heartbeat per host while the key store does not answer: 10,000 heartbeats of 100 hosts', async () => {
    const db = openDatabase(':memory:');
    const real = new SqliteHostKeyRepository(db);
    let answer: () => void = () => undefined;
    const answering = new Promise<void>((resolve) => (answer = resolve));
    let calls = 0;
    // The database blackholed: no answer until told (each heartbeat would wait its connection timeout).
    const repo = Object.create(real) as HostKeyRepository;
    repo.recordSeenMany = async (...args) => {
      calls++;
      await answering;
      return real.recordSeenMany(...args);
    };
    const { r } = registry(true, db, undefined, repo);
    const keys = Array.from({ length: 100 }, () => generateSigningKey());
    const t = clock.now();
    r.heard(heartbeat('web0', keys[0], { sentAt: t - 1 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1); // web0's first batch, waiting
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      const host = i % 100;
      r.heard(heartbeat(`web${host}`, keys[host], { sentAt: t + Math.floor(i / 100) }));
      most = Math.max(most, r.queuedHeartbeats);
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    expect(most).toBeLessThanOrEqual(100); // the newest of each host
    answer();
    await r.heartbeatsHandled();
    expect(calls).toBe(2); // then one batch: the newest of each host
    const views = await r.list(t + 99);
    expect(views).toHaveLength(100);
    expect(views.every((v) => v.status === 'online')).toBe(true);
    expect(r.known().every((p) => p.sentAt === t + 99)).toBe(true);
    await r.stop();
  }, 60_000);

  it('records a burst of 1,200 first heartbeats in at most ceil(1,200 / 500) + 1 key transactions and audit writes, every host online', async () => {
    const db = openDatabase(':memory:');
    const real = new SqliteHostKeyRepository(db);
    let transactions = 0;
    const repo = Object.create(real) as HostKeyRepository;
    repo.recordSeenMany = (...args) => {
      transactions++; // one transaction per call: see the batch contract (host-keys.batch.contract.ts)
      return real.recordSeenMany(...args);
    };
    const records: AuditEvent[] = [];
    let writes = 0;
    const audit: AuditLog = {
      record: async (e) => void records.push(e),
      recordMany: async (es) => void (writes++, records.push(...es)),
      query: async () => [],
    };
    const { r } = registry(true, db, audit, repo);
    const t = clock.now();
    for (let i = 0; i < 1_200; i++) r.heard(heartbeat(`web${i}`, undefined, { sentAt: t }));
    await r.heartbeatsHandled();
    expect(transactions).toBeLessThanOrEqual(Math.ceil(1_200 / HEARTBEAT_BATCH) + 1);
    expect(writes).toBeLessThanOrEqual(Math.ceil(1_200 / HEARTBEAT_BATCH) + 1);
    expect(records.filter((e) => e.action === 'host.accept')).toHaveLength(1_200);
    expect(r.onlineHosts(t)).toHaveLength(1_200);
    await r.stop();
  }, 60_000);
});
