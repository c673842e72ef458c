import * as amqplib from 'amqplib';
import { resultsQueue } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exposition } from '../prometheus-text';
import { PrivateBroker } from '../support/private-broker';
import { until, Warren } from './harness';

/** `GET /metrics` as Prometheus scrapes it: with `Authorization: Bearer <token>` from its credentials file, or none. */
async function scrape(
  w: Warren,
  token: string | null,
): Promise<{ status: number; contentType: string | null; m: Exposition | null }> {
  const res = await fetch(`${w.url}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    m: res.status === 200 ? new Exposition(text) : null,
  };
}

describe('GET /metrics on a controller with real agents', () => {
  const w = new Warren();
  const hosts = ['m1', 'm2'];
  let viewer = '';

  beforeAll(async () => {
    await w.startController();
    viewer = w.createToken('prometheus', 'viewer');
    await Promise.all(hosts.map((h) => w.startAgent(h)));
  });
  afterAll(async () => {
    await w.teardown();
  });

  it('refuses a scrape without a token or with a bad one, and serves a viewer token in the Prometheus text format', async () => {
    expect((await scrape(w, null)).status).toBe(401);
    expect((await scrape(w, 'wrn_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(401);
    const ok = await scrape(w, viewer);
    expect(ok.status).toBe(200);
    // Prometheus picks its parser by this: text format 0.0.4 (the parameters' order does not matter).
    expect(ok.contentType?.split(/; */).sort()).toEqual(['charset=utf-8', 'text/plain', 'version=0.0.4']);
    expect(ok.m!.types.get('warren_invocations_total')).toBe('counter');
  });

  it('shows a task run on the agents: terminal states, both latencies, hosts online, nothing left running', async () => {
    const task = await w.runAndWait({ command: 'echo metrics', hosts: [...hosts, 'nosuchhost'] });
    expect(task.results.map((r: { state: string }) => r.state).sort()).toEqual([
      'succeeded',
      'succeeded',
      'unknown_host',
    ]);
    const { m } = await scrape(w, viewer);
    expect(m!.value('warren_invocations_total', { state: 'succeeded' })).toBeGreaterThanOrEqual(2);
    expect(m!.value('warren_invocations_total', { state: 'unknown_host' })).toBeGreaterThanOrEqual(1);
    expect(m!.value('warren_invocations_total', { state: 'lost' })).toBe(0);
    expect(m!.types.get('warren_publish_confirm_seconds')).toBe('histogram');
    expect(m!.value('warren_publish_confirm_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(m!.value('warren_publish_to_result_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(m!.value('warren_publish_to_result_seconds_bucket', { le: '+Inf' })).toBe(
      m!.value('warren_publish_to_result_seconds_count'),
    );
    expect(m!.value('warren_hosts', { status: 'online' })).toBe(hosts.length);
    expect(m!.value('warren_hosts', { status: 'offline' })).toBe(0);
    expect(m!.value('warren_broker_connected')).toBe(1);
    expect(m!.value('warren_invocations', { state: 'pending' })).toBe(0);
    expect(m!.value('warren_invocations', { state: 'running' })).toBe(0);
    expect(m!.value('warren_tasks_running')).toBe(0);
    expect(m!.value('warren_results_queue_messages')).toBe(0);
    expect(m!.value('warren_controller_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts a task while it runs, and an agent that went away as offline', async () => {
    const posted = await w.api('POST', '/v1/tasks', { command: 'sleep 2', hosts: ['m1'] });
    expect(posted.status).toBe(202);
    const during = await until(async () => {
      const { m } = await scrape(w, viewer);
      return m!.value('warren_invocations', { state: 'running' }) === 1 ? m : null;
    });
    expect(during!.value('warren_tasks_running')).toBe(1);
    await w.agents.get('m2')!.stop('SIGTERM'); // says goodbye
    const after = await until(async () => {
      const { m } = await scrape(w, viewer);
      return m!.value('warren_hosts', { status: 'offline' }) === 1 ? m : null;
    });
    expect(after!.value('warren_hosts', { status: 'online' })).toBe(1);
  });

  it('counts a reply dropped because no accepted agent key signed it', async () => {
    const before = (await scrape(w, viewer)).m!.value('warren_replies_rejected_total', { reason: 'untrusted_key' });
    expect(before).toBe(0);
    const conn = await amqplib.connect(w.brokerUrl, { noDelay: true });
    try {
      const ch = await conn.createConfirmChannel();
      ch.sendToQueue(resultsQueue(w.ns), Buffer.from('{"v":1,"kind":"result"}'), { correlationId: 'forged' });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    await until(
      async () =>
        (await scrape(w, viewer)).m!.value('warren_replies_rejected_total', { reason: 'untrusted_key' }) === 1,
    );
  });

  it('serves /metrics without a token when started with --metrics-public', async () => {
    await w.controller!.stop();
    await w.startController({}, ['--auto-accept', '--metrics-public']);
    const open = await scrape(w, null);
    expect(open.status).toBe(200);
    expect(open.m!.value('warren_broker_connected')).toBe(1);
    // The flag opens /metrics only: the API still needs a token.
    expect((await w.api('GET', '/v1/hosts', undefined, { token: null })).status).toBe(401);
  });
});

describe('GET /metrics while the broker goes away and comes back', () => {
  let b: PrivateBroker;
  let w: Warren;

  beforeAll(async () => {
    b = await PrivateBroker.start();
    w = new Warren({ brokerUrl: b.url() });
    await w.startController({}, ['--auto-accept', '--metrics-public']);
  });
  afterAll(async () => {
    await w?.teardown().catch(() => undefined); // the queues went with the private node
    await b?.destroy();
  });

  it('shows the broker down (and no results-queue figure), then one reconnect', async () => {
    let m = (await scrape(w, null)).m!;
    expect(m.value('warren_broker_connected')).toBe(1);
    expect(m.value('warren_broker_reconnects_total')).toBe(0);
    expect(m.value('warren_results_queue_messages')).toBe(0);

    await b.stop();
    m = await until(async () => {
      const s = (await scrape(w, null)).m!;
      return s.value('warren_broker_connect_failures_total')! >= 1 ? s : null;
    }, 30_000);
    expect(m.value('warren_broker_connected')).toBe(0);
    expect(m.value('warren_results_queue_messages')).toBeUndefined();

    await b.restart();
    m = await until(async () => {
      const s = (await scrape(w, null)).m!;
      return s.value('warren_broker_connected') === 1 ? s : null;
    }, 60_000);
    expect(m.value('warren_broker_reconnects_total')).toBe(1);
    expect(m.value('warren_results_queue_messages')).toBe(0);
    expect(w.controller!.output).toMatch(/"reconnects":1,"msg":"amqp connected"/);
  });
});
