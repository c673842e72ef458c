import * as amqplib from 'amqplib';
import { randomUUID } from 'node:crypto';
import {
  agentQueue,
  encode,
  generateSigningKey,
  KEY_ID_HEADER,
  type PresenceMessage,
  presenceExchange,
  resultsQueue,
  signBody,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until, Warren } from './harness';

/** An OSC 52 clipboard write (`rm -rf ~`, base64), then a C1 CSI (U+009B): what a terminal would act on. */
const OSC52 = '\u001b]52;c;cm0gLXJmIH4=\u0007';
const C1 = '\u009b2J';
/** what a terminal would act on, in anything the CLI writes */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * What an anonymous client or a host says is data wherever it is shown, and nobody can flood the
 * audit log: a real controller and agent, a real broker, the real CLI.
 */
describe('edges: untrusted text is shown as data; repeated refusals are counted, not each written', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('e1');
  });
  afterAll(() => w.teardown());

  it('drops a forged heartbeat whose labels or version hold escapes: `warren hosts` shows nothing of it', async () => {
    const conn = await amqplib.connect(w.brokerUrl);
    const ch = await conn.createConfirmChannel();
    const forged = (host: string, over: Partial<PresenceMessage>) => {
      const key = generateSigningKey();
      const body = encode({
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
      } as PresenceMessage);
      ch.publish(presenceExchange(w.ns), '', body, { headers: signBody(body, key) });
    };
    forged('evil1', { labels: { role: `db${OSC52}` } });
    forged('evil2', { labels: { [`role${OSC52}`]: 'db' } });
    forged('evil3', { version: `0.1.0${C1}` });
    forged('good1', { labels: { role: 'db' } }); // a positive control: the same path, valid fields
    await ch.waitForConfirms();
    await conn.close();
    await until(async () => (await w.cli(['hosts'])).stdout.includes('good1'));
    const listed = await w.cli(['hosts']);
    expect(listed.stdout).not.toMatch(/evil/);
    expect(listed.stdout).not.toMatch(UNSAFE);
    expect((await w.cli(['hosts', '--json'])).stdout).not.toMatch(/evil/);
    expect(w.controller!.output.match(/"rejected presence message"/g)?.length).toBe(3);
  });

  it('audits an anonymous POST /v1/tasks with an OSC 52 write in its command; `warren audit` shows it escaped', async () => {
    const refused = await w.api('POST', '/v1/tasks', { command: `echo ${OSC52}${C1}`, hosts: ['e1'] }, { token: null });
    expect(refused.status).toBe(401);
    for (const args of [
      ['audit', '--actor', 'anonymous'],
      ['audit', '--actor', 'anonymous', '--json'],
    ]) {
      const shown = await w.cli(args);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/\\(x1b|u001b)]52;c;/); // there, as visible text
      expect(shown.stdout).not.toMatch(UNSAFE);
    }
  });

  it('never echoes a forged key id header, and counts 200 forged commands into a handful of records', async () => {
    const conn = await amqplib.connect(w.brokerUrl);
    const ch = await conn.createConfirmChannel();
    const stranger = generateSigningKey();
    const N = 200;
    for (let i = 0; i < N; i++) {
      const body = encode({
        v: 1,
        kind: 'command',
        invocationId: randomUUID(),
        taskId: 't_forged',
        host: 'e1',
      } as never);
      // The header an attacker chooses: terminal escapes and a line that reads as another audit record.
      const keyId = `x${OSC52}\n2026-01-01 00:00:00Z  admin  10.0.0.1  task.create  allowed`;
      ch.sendToQueue(agentQueue(w.ns, 'e1'), body, {
        headers: { ...signBody(body, stranger), [KEY_ID_HEADER]: keyId },
      });
    }
    await ch.waitForConfirms();
    const refusedByAgent = () => (w.agents.get('e1')!.output.match(/"code":"untrusted_key"/g) ?? []).length;
    await until(() => refusedByAgent() >= N, 30_000);
    await until(async () => (await ch.checkQueue(resultsQueue(w.ns))).messageCount === 0, 30_000);
    await conn.close();
    const forgedRecords = async () =>
      (await w.api('GET', '/v1/audit?action=agent.rejected&limit=1000')).body.records as {
        reason: string;
        count: number;
        detail: { code: string };
      }[];
    const first = await until(async () => (await forgedRecords()).find((r) => r.detail.code === 'untrusted_key'));
    expect(first.reason).toBe('signed by an untrusted key (not a fingerprint)');
    expect(w.agents.get('e1')!.output).not.toContain('task.create  allowed');
    // A graceful stop writes the count of the repeats; they sum to the forged messages.
    await w.controller!.stop('SIGTERM');
    await w.startController();
    const records = (await forgedRecords()).filter((r) => r.detail.code === 'untrusted_key');
    expect(records.length).toBeLessThanOrEqual(4);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(N);
    expect(records.every((r) => r.reason === 'signed by an untrusted key (not a fingerprint)')).toBe(true);
  }, 90_000);

  it('writes 1,000 anonymous requests as a handful of audit records whose counts sum to 1,000', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const { status } = await w.api('GET', '/v1/hosts', undefined, { token: null });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect([...statuses.keys()].sort()).toEqual([401, 429]);
    // The address's bucket is empty now: the admin's own reads are refused (429, audited) until it
    // refills. Those refusals are counted as well; there are as many as the answers say.
    let adminRefused = 0;
    const anonymousRecords = async () => {
      for (;;) {
        const r = await w.api('GET', '/v1/audit?action=api.request&actor=anonymous&limit=1000');
        if (r.status !== 429) return r.body.records as { count: number; reason: string }[];
        adminRefused++;
        await sleep(200);
      }
    };
    // Within the minute: the first 401 and the first 429 only (a slow run may cross one minute); the rest are counted.
    expect((await anonymousRecords()).length).toBeLessThanOrEqual(4);
    // A graceful stop writes the counts it holds; the restarted controller shows them.
    await w.controller!.stop('SIGTERM');
    await w.startController();
    const records = await anonymousRecords();
    expect(records.length).toBeLessThanOrEqual(4);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000 + adminRefused);
    const table = await w.cli(['audit', '--actor', 'anonymous', '--action', 'api.request']);
    expect(table.stdout).toMatch(/denied ×\d{2,}/);
  }, 120_000);
});
