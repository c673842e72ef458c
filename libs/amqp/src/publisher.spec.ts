import { EventEmitter } from 'node:events';
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
  const bodies: string[] = [];
  const state = { closed: false };
  const ch = {
    on: () => ch,
    publish: (_ex: string, _rk: string, c: Buffer, _o: unknown, cb: Confirm) => {
      bodies.push(c.toString());
      confirms.push(cb);
    },
    close: async () => {
      state.closed = true;
    },
  } as unknown as ConfirmChannel;
  return {
    ch,
    published: () => confirms.length,
    /** every body published on it, in order */
    bodies,
    closed: () => state.closed,
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
  /** the connection's model: emit `blocked` / `unblocked` on it as the broker would */
  const model = new EventEmitter();
  const conn = {
    connected: true,
    attach: async (hook: (m: ChannelModel) => Promise<void>) => hook(model as unknown as ChannelModel),
    ownedConfirmChannel: async () => {
      opens.count++;
      if (opens.count === 1) return first;
      if (opens.count - 1 <= failures) throw new Error('CHANNEL_ERROR - channel_max reached');
      return next;
    },
  } as unknown as AmqpConnection;
  return { conn, opens, model };
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

describe('ConfirmPublisher when a confirm never comes (no ack, no nack, no channel close)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const settle = (p: Promise<void>) =>
    p.then(
      () => 'confirmed',
      (err: Error) => err.name,
    );

  it("gives the channel up after confirmTimeoutMs and publishes the message again on a fresh one; the old channel's late answer is ignored", async () => {
    const first = fakeChannel();
    const next = fakeChannel();
    const { conn, opens } = connection(first.ch, 0, next.ch);
    const pub = new ConfirmPublisher(conn, { logger: pino({ level: 'silent' }), confirmTimeoutMs: 10_000 });
    await pub.start();
    const outcome = settle(pub.publish('x', 'k', Buffer.from('a')));

    await vi.advanceTimersByTimeAsync(9_999);
    expect(opens.count).toBe(1);
    expect(pub.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(opens.count).toBe(2);
    expect(next.bodies).toEqual(['a']);
    expect(first.closed()).toBe(true);
    expect(pub.stalledChannels).toBe(1);
    expect(pub.republished).toBe(1);

    first.nack(); // a late answer on the channel given up
    next.ack();
    expect(await outcome).toBe('confirmed');
    expect(pub.pending).toBe(0);
    // Later publishes go through the fresh channel.
    const later = settle(pub.publish('x', 'k', Buffer.from('b')));
    expect(next.bodies).toEqual(['a', 'b']);
    next.ack();
    expect(await later).toBe('confirmed');
    await pub.close(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not count the time the broker blocks the connection (a resource alarm), and counts again once unblocked', async () => {
    const first = fakeChannel();
    const next = fakeChannel();
    const { conn, opens, model } = connection(first.ch, 0, next.ch);
    const pub = new ConfirmPublisher(conn, { logger: pino({ level: 'silent' }), confirmTimeoutMs: 10_000 });
    await pub.start();
    const outcome = settle(pub.publish('x', 'k', Buffer.from('a')));
    model.emit('blocked', 'low on memory');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(opens.count).toBe(1);
    expect(next.published()).toBe(0);
    model.emit('unblocked');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(next.bodies).toEqual(['a']);
    next.ack();
    expect(await outcome).toBe('confirmed');
    await pub.close(0);
  });

  it('publishes again what a channel retired after a nack still carries, when its confirm does not come either', async () => {
    const first = fakeChannel();
    const next = fakeChannel();
    const { conn } = connection(first.ch, 0, next.ch);
    const pub = new ConfirmPublisher(conn, { logger: pino({ level: 'silent' }), confirmTimeoutMs: 10_000 });
    await pub.start();
    const a = settle(pub.publish('x', 'k', Buffer.from('a')));
    const b = settle(pub.publish('x', 'k', Buffer.from('b')));
    first.nack(); // 'a' nacked: `first` retired, 'b' still awaits its confirm on it
    expect(await a).toBe('PublishNackedError');
    await vi.advanceTimersByTimeAsync(0);
    expect(next.published()).toBe(0);
    expect(first.closed()).toBe(false);

    await vi.advanceTimersByTimeAsync(10_000);
    expect(next.bodies).toEqual(['b']);
    expect(first.closed()).toBe(true);
    next.ack();
    expect(await b).toBe('confirmed');
    await pub.close(0);
  });
});
