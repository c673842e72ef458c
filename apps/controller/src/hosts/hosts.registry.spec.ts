import { encode, generateSigningKey, type PresenceMessage, signBody } from '@warren/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/audit.port';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { openDatabase } from '../store/database';
import { HostKeysStore, MAX_PENDING_KEYS_PER_HOST } from './host-keys.store';
import { HostsRegistry } from './hosts.registry';

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
    sentAt: Date.now(),
    publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    ...over,
  };
  const content = encode(m);
  return { content, properties: { headers: signBody(content, key) }, key };
}

function registry(autoAccept: boolean) {
  const keys = new HostKeysStore(openDatabase(':memory:'));
  const audit: AuditEvent[] = [];
  const r = new HostsRegistry(
    {} as BrokerService,
    keys,
    { autoAccept } as ControllerConfig,
    { record: (e) => audit.push(e) },
    pino({ level: 'silent' }),
  );
  const receive = (d: { content: Buffer; properties: object }, now = Date.now()) =>
    (r as unknown as { receive(d: unknown, now: number): void }).receive(d, now);
  return { r, keys, audit, receive };
}

describe('HostsRegistry', () => {
  it('ignores a replayed heartbeat or goodbye (not newer than the last one of that key)', () => {
    const { r, receive } = registry(true);
    const key = generateSigningKey();
    const t = Date.now();
    const goodbye = heartbeat('web1', key, { status: 'goodbye', sentAt: t - 5000 });
    receive(heartbeat('web1', key, { sentAt: t }), t);
    expect(r.list(t)[0]).toMatchObject({ host: 'web1', status: 'online', trust: 'accepted' });
    receive(goodbye, t + 10); // captured earlier, played now
    expect(r.list(t + 10)[0].status).toBe('online');
    receive(heartbeat('web1', key, { status: 'goodbye', sentAt: t + 20 }), t + 20);
    expect(r.list(t + 20)[0].status).toBe('offline');
  });

  it(`records at most ${MAX_PENDING_KEYS_PER_HOST} pending keys per host name, whatever a flood of heartbeats announces`, () => {
    const { r, keys, receive } = registry(false);
    for (let i = 0; i < 20; i++) receive(heartbeat('web1'));
    expect(keys.view('web1')).toMatchObject({ trust: 'pending' });
    expect(keys.view('web1').pendingKeyIds).toHaveLength(MAX_PENDING_KEYS_PER_HOST);
    expect(r.list()).toHaveLength(1);
  });

  it('refuses a heartbeat not signed by the key it carries', () => {
    const { r, receive } = registry(true);
    const h = heartbeat('web1');
    receive({ content: h.content, properties: { headers: signBody(h.content, generateSigningKey()) } });
    expect(r.list()).toEqual([]);
  });
});
