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
import { HostKeysStore, MAX_PENDING_KEYS_PER_HOST } from './host-keys.store';
import { HostsRegistry } from './hosts.registry';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';

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

function registry(autoAccept: boolean, auditLog?: AuditLog) {
  const keys = new HostKeysStore(new SqliteHostKeyRepository(openDatabase(':memory:')), clock);
  const audit: AuditEvent[] = [];
  const r = new HostsRegistry(
    {} as BrokerService,
    keys,
    { autoAccept } as ControllerConfig,
    auditLog ?? { record: async (e) => void audit.push(e), query: async () => [] },
    pino({ level: 'silent' }),
    clock,
  );
  const receive = (d: { content: Buffer; properties: object }, now = clock.now()) =>
    (r as unknown as { receive(d: unknown, now: number): Promise<void> }).receive(d, now);
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

  it(`records at most ${MAX_PENDING_KEYS_PER_HOST} pending keys per host name, whatever a flood of heartbeats announces`, async () => {
    const { r, keys, receive } = registry(false);
    for (let i = 0; i < 20; i++) await receive(heartbeat('web1'));
    expect(await keys.view('web1')).toMatchObject({ trust: 'pending' });
    expect((await keys.view('web1')).pendingKeyIds).toHaveLength(MAX_PENDING_KEYS_PER_HOST);
    expect(await r.list()).toHaveLength(1);
  });

  it('refuses a heartbeat not signed by the key it carries', async () => {
    const { r, receive } = registry(true);
    const h = heartbeat('web1');
    await receive({ content: h.content, properties: { headers: signBody(h.content, generateSigningKey()) } });
    expect(await r.list()).toEqual([]);
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
    const { receive } = registry(false, log);
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
});
