import { describe, expect, it } from 'vitest';
import { Exposition } from '../../../../test/prometheus-text';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import type { InvocationUpdate, TaskRecord } from '../store/task-store.port';
import { MetricsService, type ScrapeSources } from './metrics.service';

const capture = (data: string) => ({ data, bytes: data.length, truncated: false });

function task(id: string): TaskRecord {
  return {
    id,
    command: 'true',
    cwd: null,
    env: {},
    runAs: null,
    createdBy: 'alice',
    timeoutMs: 10_000,
    deliveryTimeoutMs: 5_000,
    killGraceMs: 1_000,
    state: 'running',
    createdAt: 1_000,
    finishedAt: null,
    hostCount: 3,
  };
}

function result(invocationId: string, host: string, state: 'succeeded' | 'failed'): InvocationUpdate {
  return {
    kind: 'result',
    invocationId,
    host,
    state,
    exitCode: state === 'succeeded' ? 0 : 1,
    signal: null,
    stdout: capture(''),
    stderr: capture(''),
    startedAt: 2_000,
    finishedAt: 3_000,
    durationMs: 1_000,
    reason: null,
  };
}

/** A metrics service fed by a real store, as the controller wires them, with one task of three hosts. */
async function setup() {
  const metrics = new MetricsService();
  const store = new SqliteTaskStore(openDatabase(':memory:'), (c) => metrics.invocationsChanged(c));
  await store.createTask(task('t1'), [
    { id: 'i1', host: 'a', deadlineAt: 9_000 },
    { id: 'i2', host: 'b', deadlineAt: 9_000 },
    { id: 'i3', host: 'c', deadlineAt: 9_000 },
  ]);
  const scrape = async () => new Exposition((await metrics.expose()).body);
  return { metrics, store, scrape };
}

describe('MetricsService', () => {
  it('counts each terminal state the store commits, once, and not a start or an update that changed nothing', async () => {
    const { store, scrape } = await setup();
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'a', startedAt: 1_500, resultGraceMs: 500 }],
      2_000,
    );
    await store.applyUpdates(
      [
        result('i1', 'a', 'succeeded'),
        { kind: 'verdict', invocationId: 'i2', state: 'undelivered', reason: 'x', at: 3_000 },
      ],
      3_000,
    );
    await store.applyUpdates([result('i1', 'a', 'failed'), result('i3', 'wrong-host', 'succeeded')], 4_000); // neither applies
    const m = await scrape();
    expect(m.types.get('warren_invocations_total')).toBe('counter');
    expect(m.value('warren_invocations_total', { state: 'succeeded' })).toBe(1);
    expect(m.value('warren_invocations_total', { state: 'undelivered' })).toBe(1);
    // Every terminal state is there from the start, so rate() works before the first one happens.
    expect(m.value('warren_invocations_total', { state: 'failed' })).toBe(0);
    expect(m.value('warren_invocations_total', { state: 'lost' })).toBe(0);
    expect(m.value('warren_invocations_total', { state: 'running' })).toBeUndefined();
  });

  it('counts nothing from a transaction that rolled back', async () => {
    const { store, scrape } = await setup();
    const broken = { ...result('i2', 'b', 'failed'), stdout: undefined } as unknown as InvocationUpdate;
    await expect(store.applyUpdates([result('i1', 'a', 'succeeded'), broken], 3_000)).rejects.toThrow();
    expect((await store.getInvocations('t1'))[0].state).toBe('pending');
    expect((await scrape()).value('warren_invocations_total', { state: 'succeeded' })).toBe(0);
  });

  it("times each publish to its confirm, and to the agent's result but not to a controller verdict", async () => {
    const { metrics, store, scrape } = await setup();
    await metrics.timePublish('i1', async () => undefined);
    await metrics.timePublish('i2', async () => undefined);
    await expect(metrics.timePublish('i3', async () => Promise.reject(new Error('nacked')))).rejects.toThrow('nacked');
    let m = await scrape();
    expect(m.types.get('warren_publish_confirm_seconds')).toBe('histogram');
    expect(m.value('warren_publish_confirm_seconds_count')).toBe(2); // a failed publish is not a confirm
    expect(m.value('warren_publish_confirm_seconds_bucket', { le: '+Inf' })).toBe(2);
    expect(m.value('warren_publish_to_result_seconds_count')).toBe(0);

    await store.applyUpdates(
      [result('i1', 'a', 'succeeded'), { kind: 'verdict', invocationId: 'i2', state: 'lost', reason: 'x', at: 3_000 }],
      3_000,
    );
    await store.applyUpdates([result('i1', 'a', 'succeeded')], 3_100); // a duplicate: not observed twice
    m = await scrape();
    expect(m.types.get('warren_publish_to_result_seconds')).toBe('histogram');
    expect(m.value('warren_publish_to_result_seconds_count')).toBe(1);
    expect(m.value('warren_publish_to_result_seconds_sum')).toBeGreaterThan(0);
    expect(m.value('warren_publish_to_result_seconds_sum')).toBeLessThan(5);
  });

  it('reads the gauges from their sources at scrape time, and leaves the results queue out while it cannot be counted', async () => {
    const { metrics, store, scrape } = await setup();
    let depth: number | null = 7;
    let connected = true;
    const sources: ScrapeSources = {
      activity: () => store.activity(),
      hosts: () => ({ online: 2, offline: 1 }),
      brokerConnected: () => connected,
      resultsQueueDepth: async () => depth,
      globMatching: () => ({ running: 1, waiting: 3 }),
      eventStreams: () => ({ open: 4, max: 1000, refused: 2 }),
      heartbeatsWrongProtocol: () => 5,
    };
    metrics.bind(sources);
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'a', startedAt: 1_500, resultGraceMs: 500 }],
      2_000,
    );
    let m = await scrape();
    expect(m.types.get('warren_invocations')).toBe('gauge');
    expect(m.value('warren_invocations', { state: 'pending' })).toBe(2);
    expect(m.value('warren_invocations', { state: 'running' })).toBe(1);
    expect(m.value('warren_tasks_running')).toBe(1);
    expect(m.value('warren_hosts', { status: 'online' })).toBe(2);
    expect(m.value('warren_hosts', { status: 'offline' })).toBe(1);
    expect(m.value('warren_broker_connected')).toBe(1);
    expect(m.value('warren_results_queue_messages')).toBe(7);
    expect(m.value('warren_glob_matching_requests', { state: 'running' })).toBe(1);
    expect(m.value('warren_glob_matching_requests', { state: 'waiting' })).toBe(3);
    expect(m.value('warren_event_streams')).toBe(4);
    expect(m.value('warren_event_streams_limit')).toBe(1000);
    expect(m.value('warren_event_streams_refused_total')).toBe(2);
    expect(m.value('warren_heartbeats_wrong_protocol_total')).toBe(5);

    await store.applyUpdates(
      [result('i1', 'a', 'succeeded'), result('i2', 'b', 'succeeded'), result('i3', 'c', 'succeeded')],
      3_000,
    );
    depth = null;
    connected = false;
    m = await scrape();
    expect(m.value('warren_invocations', { state: 'pending' })).toBe(0);
    expect(m.value('warren_invocations', { state: 'running' })).toBe(0);
    expect(m.value('warren_tasks_running')).toBe(0);
    expect(m.value('warren_broker_connected')).toBe(0);
    expect(m.value('warren_results_queue_messages')).toBeUndefined();
    expect(m.types.get('warren_results_queue_messages')).toBe('gauge');
  });

  it('counts reconnects (not the first connect), failed connects, dropped replies and agent rejections', async () => {
    const { metrics, scrape } = await setup();
    metrics.brokerConnectedEvent();
    let m = await scrape();
    expect(m.types.get('warren_broker_reconnects_total')).toBe('counter');
    expect(m.value('warren_broker_reconnects_total')).toBe(0);
    metrics.brokerConnectFailed();
    metrics.brokerConnectFailed();
    metrics.brokerConnectedEvent();
    metrics.replyRejected('bad_signature');
    metrics.replyRejected('untrusted_key');
    metrics.replyRejected('untrusted_key');
    metrics.agentRejected('expired');
    metrics.agentRejected(undefined);
    m = await scrape();
    expect(m.value('warren_broker_reconnects_total')).toBe(1);
    expect(m.value('warren_broker_connect_failures_total')).toBe(2);
    expect(m.value('warren_replies_rejected_total', { reason: 'untrusted_key' })).toBe(2);
    expect(m.value('warren_replies_rejected_total', { reason: 'bad_signature' })).toBe(1);
    expect(m.value('warren_replies_rejected_total', { reason: 'malformed' })).toBe(0);
    expect(m.value('warren_agent_rejections_total', { code: 'expired' })).toBe(1);
    expect(m.value('warren_agent_rejections_total', { code: 'none' })).toBe(1);
    expect(m.value('warren_agent_rejections_total', { code: 'policy' })).toBe(0);
  });

  it('keeps a registry per instance, with HELP on every metric and process metrics under warren_controller_', async () => {
    const a = await setup();
    const b = await setup(); // the global registry would refuse a second set of the same names
    a.metrics.replyRejected('malformed');
    const [ma, mb] = [await a.scrape(), await b.scrape()];
    expect(ma.value('warren_replies_rejected_total', { reason: 'malformed' })).toBe(1);
    expect(mb.value('warren_replies_rejected_total', { reason: 'malformed' })).toBe(0);
    expect(ma.types.get('warren_controller_process_cpu_user_seconds_total')).toBe('counter');
    expect(ma.value('warren_controller_process_resident_memory_bytes')).toBeGreaterThan(0);
    for (const name of ma.types.keys()) {
      expect(name).toMatch(/^warren_/);
      expect(ma.help.get(name), name).not.toBe('');
    }
    const { contentType } = await a.metrics.expose();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
