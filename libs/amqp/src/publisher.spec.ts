import type { ChannelModel, ConfirmChannel } from 'amqplib';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AmqpConnection } from './connection';
import { PublishNackedError } from './errors';
import { ConfirmPublisher } from './publisher';

type Confirm = (err: Error | null) => void;

/** A confirm channel whose confirms the test gives: `nack()` / `ack()` answer the oldest publish. */
function fakeChannel() {
  const confirms: Confirm[] = [];
  const ch = {
    on: () => ch,
    publish: (_ex: string, _rk: string, _c: Buffer, _o: unknown, cb: Confirm) => void confirms.push(cb),
    close: async () => undefined,
  } as unknown as ConfirmChannel;
  return {
    ch,
    published: () => confirms.length,
    ack: () => confirms.shift()!(null),
    nack: () => confirms.shift()!(new Error('message nacked')),
  };
}

/**
 * A connection that is up with `first` as the publisher's channel, whose next channel opens fail
 * `failures` times (as at `channel_max`, or while the broker fails over) before `next` opens.
 */
function connection(first: ConfirmChannel, failures: number, next: ConfirmChannel) {
  const opens = { count: 0 };
  const conn = {
    attach: async (hook: (m: ChannelModel) => Promise<void>) => hook({} as ChannelModel),
    ownedConfirmChannel: async () => {
      opens.count++;
      if (opens.count === 1) return first;
      if (opens.count - 1 <= failures) throw new Error('CHANNEL_ERROR - channel_max reached');
      return next;
    },
  } as unknown as AmqpConnection;
  return { conn, opens };
}

describe('ConfirmPublisher after a nack, when the successor channel cannot be opened at once', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps trying with backoff, and the publishes made meanwhile go out on the channel that finally opens', async () => {
    const first = fakeChannel();
    const next = fakeChannel();
    const { conn, opens } = connection(first.ch, 3, next.ch);
    const pub = new ConfirmPublisher(conn, { logger: pino({ level: 'silent' }), waitForConnectionMs: 5_000 });
    await pub.start();

    const nacked = pub.publish('x', 'k', Buffer.from('a'));
    first.nack();
    await expect(nacked).rejects.toBeInstanceOf(PublishNackedError);

    const later = pub.publish('x', 'k', Buffer.from('b'));
    const outcome = later.then(
      () => 'confirmed',
      (err: Error) => err.name,
    );
    // Three failed opens wait at most 100 + 200 + 400 ms between them: well within the 5 s wait.
    await vi.advanceTimersByTimeAsync(1_000);
    expect(opens.count).toBe(5);
    expect(next.published()).toBe(1);
    next.ack();
    expect(await outcome).toBe('confirmed');
    expect(pub.renewedChannels).toBe(1);
    await pub.close(0);
  });

  it('stops trying once closed', async () => {
    const first = fakeChannel();
    const { conn, opens } = connection(first.ch, Infinity, fakeChannel().ch);
    const pub = new ConfirmPublisher(conn, { logger: pino({ level: 'silent' }) });
    await pub.start();
    const nacked = pub.publish('x', 'k', Buffer.from('a'));
    first.nack();
    await expect(nacked).rejects.toBeInstanceOf(PublishNackedError);
    await vi.advanceTimersByTimeAsync(1_000);
    const before = opens.count;
    expect(before).toBeGreaterThan(2);
    await pub.close(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(opens.count).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });
});
