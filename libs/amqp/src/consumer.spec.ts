import type { Channel, ChannelModel } from 'amqplib';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AmqpConnection } from './connection';
import { Consumer } from './consumer';

/**
 * A channel whose `basic.consume` answers only when the test says so, counting the subscriptions
 * the broker would hold: the window in which a pause or resume finds no consumer tag yet.
 */
function slowChannel() {
  const answers: (() => void)[] = [];
  const live = new Set<string>();
  let n = 0;
  const ch = {
    prefetch: async () => undefined,
    on: () => ch,
    consume: () =>
      new Promise<{ consumerTag: string }>((resolve) => {
        const tag = `ctag-${++n}`;
        answers.push(() => {
          live.add(tag);
          resolve({ consumerTag: tag });
        });
      }),
    cancel: async (tag: string) => void live.delete(tag),
  } as unknown as Channel;
  return { ch, live, answer: () => answers.shift()!() };
}

async function consumerOn(ch: Channel) {
  const conn = {
    attach: async (hook: (m: ChannelModel) => Promise<void>) => void hook({} as ChannelModel),
    ownedChannel: async () => ch,
  } as unknown as AmqpConnection;
  const consumer = new Consumer(conn, {
    queue: 'q',
    prefetch: 1,
    logger: pino({ level: 'silent' }),
    handler: () => {},
  });
  void consumer.start();
  await new Promise((r) => setImmediate(r));
  return consumer;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Consumer pause and resume while the broker answers a subscribe', () => {
  it('a pause that comes before basic.consume-ok still leaves nothing consuming', async () => {
    const { ch, live, answer } = slowChannel();
    const consumer = await consumerOn(ch);
    await consumer.pause(); // no tag yet: nothing to cancel
    answer();
    await tick();
    expect([...live]).toEqual([]);
    expect(consumer.isPaused).toBe(true);
  });

  it('resume, pause, resume within one round trip ends with exactly one subscription, which a pause cancels', async () => {
    const { ch, live, answer } = slowChannel();
    const consumer = await consumerOn(ch);
    answer();
    await tick();
    await consumer.pause();
    expect([...live]).toEqual([]);
    const first = consumer.resume();
    await consumer.pause();
    const second = consumer.resume();
    answer();
    await Promise.all([first, second]);
    await tick();
    expect(live.size).toBe(1);
    await consumer.pause();
    expect(live.size).toBe(0);
  });
});
