import * as amqplib from 'amqplib';
import type { TaskView } from '@warren/api';
import { agentQueue } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, Warren } from './harness';

/**
 * `unknown_host` through the broker's `basic.return`: a host the controller knows (its key accepted)
 * whose inbox queue no longer exists. Every other `unknown_host` test goes through the key store;
 * this one fails if the command is not published `mandatory`, or if the return handler is gone
 * (the task would then wait for its delivery timeout and end `undelivered`).
 */
describe('a command for a known host whose queue is gone', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('gone1');
  });
  afterAll(() => w.teardown());

  it('ends unknown_host within a second, from the returned message', async () => {
    const hosts = (await w.api('GET', '/v1/hosts')).body.hosts as { host: string; trust: string }[];
    expect(hosts.find((h) => h.host === 'gone1')).toMatchObject({ trust: 'accepted' });
    await w.agents.get('gone1')!.stop();
    const conn = await amqplib.connect(w.brokerUrl);
    const ch = await conn.createChannel();
    await ch.deleteQueue(agentQueue(w.ns, 'gone1'));
    await conn.close();

    const started = Date.now();
    const res = await w.api('POST', '/v1/tasks', { command: 'true', hosts: ['gone1'], deliveryTimeoutMs: 30_000 });
    expect(res.status).toBe(202);
    let task: TaskView;
    for (;;) {
      task = (await w.api('GET', `/v1/tasks/${res.body.id}`)).body;
      if (task.state !== 'running' || Date.now() - started > 5000) break;
      await sleep(20);
    }
    const elapsedMs = Date.now() - started;
    expect(task.results[0]).toMatchObject({ host: 'gone1', state: 'unknown_host' });
    expect(task.results[0].reason).toMatch(/queue|unroutable|no agent/);
    expect(elapsedMs).toBeLessThan(1000);
  });
});
