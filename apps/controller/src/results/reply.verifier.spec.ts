import { encode, generateSigningKey, PROTOCOL_VERSION, type ResultMessage, signBody } from '@warren/protocol';
import type { Delivery } from '@warren/amqp';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HostKeysStore } from '../hosts/host-keys.store';
import { SqliteHostKeyRepository } from '../hosts/sqlite-host-key.repository';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import type { TaskStore } from '../store/task-store.port';
import { ReplyVerifier } from './reply.verifier';

const web1 = generateSigningKey();
const stranger = generateSigningKey();

const result = (host: string, extra: Partial<ResultMessage> = {}): ResultMessage => ({
  v: PROTOCOL_VERSION,
  kind: 'result',
  invocationId: 'i1',
  taskId: 't1',
  host,
  state: 'succeeded',
  exitCode: 0,
  signal: null,
  stdout: { data: '', bytes: 0, truncated: false },
  stderr: { data: '', bytes: 0, truncated: false },
  startedAt: 1,
  finishedAt: 2,
  durationMs: 1,
  reason: null,
  ...extra,
});

const signed = (m: ResultMessage, key = web1) => {
  const content = encode(m);
  return { content, properties: { headers: signBody(content, key), correlationId: m.invocationId } } as Delivery;
};

async function verifierOf() {
  const keys = new HostKeysStore(new SqliteHostKeyRepository(openDatabase(':memory:')), new ManualClock());
  await keys.seen('web1', web1.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), web1.keyId, true);
  const lookups: string[] = [];
  /** the ids of each batch read (`invocationOwners`) */
  const batches: string[][] = [];
  const owner = (id: string) => (id === 'i1' || id === 'i2' ? { taskId: 't1', host: 'web1' } : null);
  const store = {
    invocationOwner: async (id: string) => {
      lookups.push(id);
      return owner(id);
    },
    invocationOwners: async (ids: readonly string[]) => {
      batches.push([...ids]);
      return new Map(ids.flatMap((id) => (owner(id) ? [[id, owner(id)!] as const] : [])));
    },
  } as unknown as TaskStore;
  const metrics = new MetricsService();
  return { verifier: new ReplyVerifier(keys, store, metrics, pino({ level: 'silent' })), metrics, lookups, batches };
}

describe('ReplyVerifier', () => {
  it('believes a reply signed by the accepted key of the host it speaks for', async () => {
    const { verifier } = await verifierOf();
    expect(verifier.verify(signed(result('web1')))).toMatchObject({ kind: 'result', host: 'web1' });
  });

  it('drops a reply signed by no accepted key, or by one host speaking for another, and counts why', async () => {
    const { verifier, metrics } = await verifierOf();
    expect(verifier.verify(signed(result('web1'), stranger))).toBeNull();
    expect(verifier.verify(signed(result('web2')))).toBeNull();
    const { properties } = signed(result('web1'));
    const tampered = { content: encode(result('web1', { exitCode: 1 })), properties } as Delivery;
    expect(verifier.verify(tampered)).toBeNull();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/reason="untrusted_key"\} 1/);
    expect(text).toMatch(/reason="wrong_host"\} 1/);
    expect(text).toMatch(/reason="bad_signature"\} 1/);
  });

  it('drops, as malformed, a signed reply whose ids hold a NUL or another control character', async () => {
    const { verifier, metrics } = await verifierOf();
    expect(verifier.verify(signed(result('web1', { invocationId: 'i1\u0000' })))).toBeNull();
    expect(verifier.verify(signed(result('web1', { taskId: 't1\u007f' })))).toBeNull();
    expect(await metrics.registry.metrics()).toMatch(/reason="malformed"\} 2/);
    expect(verifier.verify(signed(result('web1')))).toMatchObject({ invocationId: 'i1' });
  });

  it('drops a reply of protocol 0 or 3 from an accepted agent, counted as protocol_version rather than malformed', async () => {
    const { verifier, metrics } = await verifierOf();
    for (const v of [0, 3]) {
      const m = { ...result('web1'), v } as unknown as ResultMessage;
      expect(verifier.verify(signed(m))).toBeNull();
    }
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/reason="protocol_version"\} 2/);
    expect(text).toMatch(/reason="malformed"\} 0/);
  });

  it("relays a live event only about the signing host's own invocation, reading the store once per invocation", async () => {
    const { verifier, lookups } = await verifierOf();
    expect(await verifier.owns({ invocationId: 'i1', taskId: 't1', host: 'web1' })).toBe(true);
    expect(await verifier.owns({ invocationId: 'i1', taskId: 't1', host: 'web2' })).toBe(false);
    expect(await verifier.owns({ invocationId: 'i9', taskId: 't1', host: 'web1' })).toBe(false);
    expect(lookups).toEqual(['i1', 'i9']);
  });

  it('learns the owners of a batch of replies in one read, then checks each without another', async () => {
    const { verifier, lookups, batches } = await verifierOf();
    await verifier.learnOwners(['i1', 'i2', 'i1', 'i9']);
    await verifier.learnOwners(['i2', 'i9']); // all known, unknown ones included: no read
    expect(batches).toEqual([['i1', 'i2', 'i9']]);
    expect(await verifier.owns({ invocationId: 'i2', taskId: 't1', host: 'web1' })).toBe(true);
    expect(await verifier.owns({ invocationId: 'i9', taskId: 't1', host: 'web1' })).toBe(false);
    expect(await verifier.owns({ invocationId: 'i1', taskId: 't1', host: 'web2' })).toBe(false);
    expect(lookups).toEqual([]);
  });

  it('lets no refusal about an unverifiable message, another host, another namespace or a replay change an invocation', async () => {
    const { verifier } = await verifierOf();
    expect(verifier.changesInvocation(result('web1'))).toBe(true);
    expect(verifier.changesInvocation(result('web1', { state: 'rejected', code: 'expired' }))).toBe(true);
    // addressed to the key this controller accepted, but the host now has another: true of this very invocation
    expect(verifier.changesInvocation(result('web1', { state: 'rejected', code: 'wrong_key' }))).toBe(true);
    // a signed command in a protocol the agent does not speak: the invocation is rejected, saying so
    expect(verifier.changesInvocation(result('web1', { state: 'rejected', code: 'protocol_version' }))).toBe(true);
    for (const code of ['bad_signature', 'wrong_host', 'wrong_namespace', 'replay'] as const)
      expect(verifier.changesInvocation(result('web1', { state: 'rejected', code }))).toBe(false);
  });
});
