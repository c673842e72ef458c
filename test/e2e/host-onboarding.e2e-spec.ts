import { randomUUID } from 'node:crypto';
import * as amqplib from 'amqplib';
import {
  encode,
  generateSigningKey,
  type PresenceMessage,
  presenceExchange,
  PROTOCOL_VERSION,
  signBody,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, sleep, until, Warren } from './harness';

type HostRow = {
  host: string;
  status: string;
  trust: string;
  labels: object;
  pendingLabels: object | null;
  pendingKeyIds: string[];
};
type KeyRow = { host: string; keyId: string; status: string };

/**
 * Issue 19, items 4, 7 and 10 against a real controller, agents and broker: forged heartbeats
 * cannot lock a host out (not even a sustained flood of them: its key can be pre-accepted), a captured heartbeat played after a restart shows no dead host online,
 * and a label a host starts to claim is not used for targeting until accepted.
 */
describe('host onboarding: no lock-out by forged keys, no replayed presence, labels accepted with the key', () => {
  const w = new Warren();
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  const hosts = async () => (await w.api('GET', '/v1/hosts')).body.hosts as HostRow[];
  const keysOf = async (host: string) =>
    ((await w.api('GET', '/v1/hosts/keys')).body.keys as KeyRow[]).filter((k) => k.host === host);

  /** Publishes a heartbeat for `host`, signed with a key it announces (what a broker credential allows): a fresh one by default. */
  const forgeHeartbeat = (host: string, key = generateSigningKey(), labels: Record<string, string> = {}) => {
    const m: PresenceMessage = {
      v: PROTOCOL_VERSION,
      kind: 'presence',
      host,
      status: 'online',
      labels,
      version: '0.1.0',
      running: 0,
      concurrency: 4,
      intervalMs: 1000,
      sentAt: Date.now(),
      publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    };
    return publish(encode(m), signBody(encode(m), key)).then(() => key.keyId);
  };
  const publish = (body: Buffer, headers: Record<string, unknown>) =>
    new Promise<void>((res, rej) =>
      ch.publish(presenceExchange(w.ns), '', body, { headers, messageId: randomUUID() }, (e) => (e ? rej(e) : res())),
    );

  beforeAll(async () => {
    await w.startController({}, []); // no --auto-accept
    conn = await amqplib.connect(BROKER_URL);
    ch = await conn.createConfirmChannel();
  });
  afterAll(async () => {
    await conn?.close();
    await w.teardown();
  });

  it('forged fresh-key heartbeats fill no slot for good: the real key is recorded, accepted; `reject` removes one', async () => {
    const forged: string[] = [];
    for (let i = 0; i < 6; i++) forged.push(await forgeHeartbeat('o1'));
    const pendingOf = async (host: string) => (await hosts()).find((h) => h.host === host)?.pendingKeyIds ?? [];
    await until(async () => (await pendingOf('o1')).length === 4, 10_000);
    await w.startAgent('o1');
    const realKeyId = await until(async () => (await pendingOf('o1')).find((k) => !forged.includes(k)), 10_000);
    const real = (await keysOf('o1')).find((k) => k.keyId === realKeyId)!;
    expect(real.status).toBe('pending');
    const listed = await w.cli(['hosts', 'keys']);
    const line = listed.stdout.split('\n').find((l) => l.includes(real.keyId));
    expect(line).toMatch(/^o1\s+\S+\s+pending\s/);
    const accepted = await w.cli(['hosts', 'accept', 'o1', '--key', real.keyId]);
    expect(accepted).toMatchObject({ code: 0, stdout: `accepted o1 key ${real.keyId}\n` });
    const task = await w.runAndWait({ command: 'echo joined', hosts: ['o1'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: 'joined\n' });

    const junk = (await keysOf('o1')).filter((k) => k.status === 'pending');
    expect(junk.length).toBeGreaterThan(1);
    const ambiguous = await w.cli(['hosts', 'reject', 'o1']);
    expect(ambiguous.code).not.toBe(0);
    expect(ambiguous.stderr).toMatch(/pending keys .*name one/);
    const rejected = await w.cli(['hosts', 'reject', 'o1', '--key', junk[0].keyId]);
    expect(rejected).toMatchObject({ code: 0, stdout: `rejected o1 key ${junk[0].keyId}\n` });
    expect((await keysOf('o1')).map((k) => k.keyId)).not.toContain(junk[0].keyId);
    const viewer = w.createToken('viewer-o', 'viewer');
    const denied = await w.api('POST', '/v1/hosts/o1/reject', { keyId: junk[1].keyId }, { token: viewer });
    expect(denied.status).toBe(403);
    const audit = (await w.api('GET', '/v1/audit?action=host.reject')).body.records as any[];
    expect(audit.map((r) => [r.actor, r.decision, r.hosts])).toEqual(
      expect.arrayContaining([
        ['e2e', 'allowed', ['o1']],
        ['e2e', 'denied', ['o1']],
      ]),
    );
  });

  it('a captured heartbeat played after a controller restart shows no dead host online, and --all leaves it out', async () => {
    const capture = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(capture.queue, presenceExchange(w.ns), '');
    const agent = await w.startAgent('o2');
    await w.cli(['hosts', 'accept', 'o2']);
    const heartbeats: amqplib.ConsumeMessage[] = [];
    await ch.consume(
      capture.queue,
      (m) => {
        if (m && JSON.parse(m.content.toString()).host === 'o2') heartbeats.push(m);
      },
      { noAck: true },
    );
    await until(() => heartbeats.length >= 2 || undefined, 10_000);
    await agent.stop('SIGKILL'); // dead: no goodbye
    // Offline (3 missed intervals) means the controller has handled every heartbeat o2 sent.
    await until(async () => (await hosts()).some((h) => h.host === 'o2' && h.status === 'offline'), 10_000);
    const last = heartbeats[heartbeats.length - 1];
    await w.controller!.stop();
    await w.startController({}, []);
    // Replayed within the presence window of its sentAt: only the recorded newest sentAt tells it apart.
    // One at a time: two heartbeats of one key read in the same turn are one (the newer), by design.
    const replays = () => (w.controller!.output.match(/ignored a stale or replayed heartbeat/g) ?? []).length;
    for (const [i, m] of [last, heartbeats[0]].entries()) {
      await publish(m.content, m.properties.headers ?? {});
      await until(() => replays() >= i + 1 || undefined, 5_000);
    }
    await until(async () => (await hosts()).some((h) => h.host === 'o1' && h.status === 'online'), 10_000);
    // Listed (presence persists across restarts) but offline: the replays were not believed.
    expect((await hosts()).find((h) => h.host === 'o2')?.status).toBe('offline');
    const all = await w.api('POST', '/v1/tasks', { command: 'true', all: true, dryRun: true });
    expect(all.status).toBe(200);
    expect(all.body.hosts).toEqual(['o1']); // the live, accepted host only
  });

  it('a host that starts claiming role=db gets no --label role=db command until the change is accepted', async () => {
    await w.startAgent('o3', {}, ['--labels', 'role=web']);
    const first = await w.cli(['hosts', 'accept', 'o3']);
    expect(first.code).toBe(0);
    await w.agents.get('o3')!.stop('SIGTERM');
    await w.startAgent('o3', {}, ['--labels', 'role=db']); // same state directory: same, accepted key
    const claims = (h: HostRow) => JSON.stringify(h.pendingLabels ?? h.labels) === '{"role":"db"}';
    await until(async () => (await hosts()).some((h) => h.host === 'o3' && claims(h)), 10_000);
    const refused = await w.api('POST', '/v1/tasks', { command: 'true', labels: { role: 'db' } });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toMatch(/no host matches the target/);
    expect((await hosts()).find((h) => h.host === 'o3')).toMatchObject({
      status: 'online',
      trust: 'accepted',
      labels: { role: 'web' },
      pendingLabels: { role: 'db' },
    });
    expect((await w.cli(['hosts'])).stdout).toMatch(/o3\s+online\s+accepted\s+role=web \(pending: role=db\)/);
    const accepted = await w.cli(['hosts', 'accept', 'o3']);
    expect(accepted).toMatchObject({ code: 0, stdout: 'accepted o3 labels role=db\n' });
    const task = await w.runAndWait({ command: 'echo db', labels: { role: 'db' } });
    expect(task.results.map((r: any) => [r.host, r.state])).toEqual([['o3', 'succeeded']]);
    expect(first.stdout).toMatch(/^accepted o3 key \S+ with labels role=web\n$/);
  });

  it('a sustained flood of forged keys for a name keeps no agent out: `accept --key <the key it logs>` onboards it', async () => {
    let flooding = true;
    const flood = (async () => {
      // Many fresh keys per heartbeat interval (1 s): the real key's pending record is evicted between its heartbeats.
      while (flooding) await Promise.all([forgeHeartbeat('o4'), forgeHeartbeat('o4'), sleep(20)]);
    })();
    try {
      await until(async () => (await keysOf('o4')).length === 4, 10_000);
      const agent = await w.startAgent('o4', {}, ['--labels', 'role=edge']);
      const keyId = JSON.parse(await agent.waitFor(/"agent started"/)).keyId as string;
      const accepted = await w.cli(['hosts', 'accept', 'o4', '--key', keyId]);
      expect(accepted.code).toBe(0);
      // Pre-accepted unless the accept fell right after one of its heartbeats; either way it is onboarded.
      expect(accepted.stdout).toMatch(
        /^(pre-accepted o4 key \S+: awaiting its first heartbeat|accepted o4 key \S+ with labels role=edge)\n$/,
      );
      expect(accepted.stdout).toContain(keyId);
      // Accepted (its trust shows `changed` while junk keys for the name are pending).
      const isAccepted = (k: KeyRow) => k.keyId === keyId && k.status === 'accepted';
      await until(async () => (await keysOf('o4')).some(isAccepted), 10_000);
      const task = await w.runAndWait({ command: 'echo onboarded', labels: { role: 'edge' } });
      expect(task.results.map((r: any) => [r.host, r.state, r.stdout])).toEqual([['o4', 'succeeded', 'onboarded\n']]);
      expect((await keysOf('o4')).filter((k) => k.status === 'accepted').map((k) => k.keyId)).toEqual([keyId]);
    } finally {
      flooding = false;
      await flood;
    }
  });

  it('a key not heard yet is pre-accepted, listed, accepted by its first heartbeat, and `reject --key` withdraws one', async () => {
    const [key, other] = [generateSigningKey(), generateSigningKey()];
    const pre = await w.cli(['hosts', 'accept', 'o5', '--key', key.keyId]);
    expect(pre).toMatchObject({ code: 0, stdout: `pre-accepted o5 key ${key.keyId}: awaiting its first heartbeat\n` });
    expect((await w.cli(['hosts', 'keys'])).stdout).toMatch(new RegExp(`^o5\\s+\\S+\\s+pre-accepted\\s`, 'm'));
    expect(await keysOf('o5')).toEqual([expect.objectContaining({ keyId: key.keyId, status: 'pre-accepted' })]);
    await forgeHeartbeat('o5', key, { role: 'cache' });
    await until(async () => (await keysOf('o5')).some((k) => k.status === 'accepted'), 10_000);
    expect((await hosts()).find((h) => h.host === 'o5')).toMatchObject({
      trust: 'accepted',
      labels: { role: 'cache' },
    });

    await w.cli(['hosts', 'accept', 'o6', '--key', other.keyId]);
    const withdrawn = await w.cli(['hosts', 'reject', 'o6', '--key', other.keyId]);
    expect(withdrawn).toMatchObject({ code: 0, stdout: `withdrew o6 pre-accepted key ${other.keyId}\n` });
    await forgeHeartbeat('o6', other);
    await until(async () => (await keysOf('o6')).length === 1, 10_000);
    expect((await keysOf('o6'))[0]).toMatchObject({ keyId: other.keyId, status: 'pending' });
    const audit = (await w.api('GET', '/v1/audit?action=host.accept')).body.records as any[];
    expect(audit.map((r) => [r.actor, r.decision, r.hosts])).toEqual(
      expect.arrayContaining([
        ['e2e', 'allowed', ['o5']],
        ['controller', 'allowed', ['o5']],
      ]),
    );
    // A name no agent could announce is refused, not kept as a pre-accept for ever.
    const bad = await w.api('POST', `/v1/hosts/${encodeURIComponent('o7 x')}/accept`, { keyId: other.keyId });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toEqual([expect.stringMatching(/^host "o7 x" is not a host id/)]);
    expect(await keysOf('o7 x')).toEqual([]);
  });
});
