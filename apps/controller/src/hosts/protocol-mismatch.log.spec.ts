import { encode, generateSigningKey, type PresenceMessage, signBody } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { capturedLogger } from '../../../../test/support/log-lines';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { openDatabase } from '../store/database';
import { HostKeysStore } from './host-keys.store';
import { HostsRegistry } from './hosts.registry';
import { ProtocolMismatchLog } from './protocol-mismatch.log';
import { SqliteHostKeyRepository } from './sqlite-host-key.repository';
import { SqlitePresenceStore } from './sqlite-presence.store';

/** A logger whose lines are kept, and the warnings among them. */
function captured() {
  const { logger, lines } = capturedLogger();
  return { log: logger, warned: () => lines.filter((l) => l.level === 40) };
}

const clock = new ManualClock();

/** A heartbeat of `host` in protocol `v`, signed with the key it announces. */
function heartbeat(host: string, v: number, key = generateSigningKey()) {
  const m = {
    v,
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
  } as unknown as PresenceMessage;
  const content = encode(m);
  return { content, properties: { headers: signBody(content, key) } };
}

describe('ProtocolMismatchLog', () => {
  it('counts every message and logs once per host and version, naming both versions and what to upgrade', () => {
    const { log, warned } = captured();
    const m = new ProtocolMismatchLog(log, 'heartbeat');
    for (let i = 0; i < 3; i++) m.report('web1', 0, 'agent speaks protocol 0; this controller accepts 1 to 2');
    m.report('web2', 0, 'agent speaks protocol 0; this controller accepts 1 to 2');
    m.report('web1', 3, 'agent speaks protocol 3; this controller accepts 1 to 2');
    expect(m.count).toBe(5);
    expect(warned().map((l) => [l.host, l.agentProtocol, l.msg])).toEqual([
      ['web1', 0, 'heartbeat of a protocol version this controller does not accept: upgrade the agent'],
      ['web2', 0, 'heartbeat of a protocol version this controller does not accept: upgrade the agent'],
      ['web1', 3, 'heartbeat of a protocol version this controller does not accept: upgrade this controller'],
    ]);
    expect(warned()[0]).toMatchObject({
      accepted: { min: 1, max: 2 },
      reason: 'agent speaks protocol 0; this controller accepts 1 to 2',
    });
  });
});

describe('HostsRegistry and heartbeats of another protocol version', () => {
  it('records no presence from them, logs each host once and counts every one', async () => {
    const { log, warned } = captured();
    const db = openDatabase(':memory:');
    const keys = new HostKeysStore(new SqliteHostKeyRepository(db), clock);
    const r = new HostsRegistry(
      {} as BrokerService,
      keys,
      { autoAccept: true } as ControllerConfig,
      { record: async () => undefined, recordMany: async () => undefined, query: async () => [] },
      log,
      clock,
      new SqlitePresenceStore(db),
    );
    const receive = (d: unknown) =>
      (r as unknown as { receive(batch: unknown[]): Promise<void> }).receive([{ m: d, at: clock.now() }]);
    const oldKey = generateSigningKey();
    for (let i = 0; i < 3; i++) await receive(heartbeat('old1', 0, oldKey));
    await receive(heartbeat('new1', 3));
    await receive(heartbeat('web1', 1));
    expect((await r.list()).map((h) => [h.host, h.status])).toEqual([['web1', 'online']]);
    expect(r.mismatches.count).toBe(4);
    const mismatched = warned().filter((l) => l.agentProtocol !== undefined);
    expect(mismatched.map((l) => [l.host, l.reason])).toEqual([
      ['old1', 'agent speaks protocol 0; this controller accepts 1 to 2'],
      ['new1', 'agent speaks protocol 3; this controller accepts 1 to 2'],
    ]);
    expect(await keys.view('old1')).toMatchObject({ trust: 'unknown' });
  });
});
