import { encode, generateSigningKey, type PresenceMessage, signBody } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { capturedLogger, type LogLine } from '../../../../test/support/log-lines';
import { type HeardMessage, HeartbeatQueue } from './heartbeat.queue';

const clock = new ManualClock();
const KEY = generateSigningKey();

/** A heartbeat of `host` sent at `sentAt`, announcing `key` and signed with `signer`. */
function heartbeat(host: string, sentAt: number, key = KEY, signer = key): HeardMessage {
  const m: PresenceMessage = {
    v: 1,
    kind: 'presence',
    host,
    status: 'online',
    labels: {},
    version: '0.1.0',
    running: 0,
    concurrency: 4,
    intervalMs: 1000,
    sentAt,
    publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
  const content = encode(m);
  return { content, properties: { headers: signBody(content, signer) } };
}

/** One turn of the event loop: the queue takes its next batch. */
const tick = () => new Promise((r) => setImmediate(r));

describe('HeartbeatQueue', () => {
  let lines: LogLine[];
  /** the batches the handler was given, in order, each as host@sentAt */
  let batches: string[][];
  /** releases the batch being handled (with an error to fail it) */
  let release: (err?: Error) => void;
  let queue: HeartbeatQueue;
  const handled = () => batches.flat();

  function open(maxBatch = 10) {
    const captured = capturedLogger();
    lines = captured.lines;
    batches = [];
    release = () => undefined;
    queue = new HeartbeatQueue({
      max: 10,
      maxBatch,
      log: captured.logger,
      clock,
      handle: (batch) => {
        batches.push(
          batch.map(({ m }) => {
            const p = JSON.parse(m.content.toString()) as PresenceMessage;
            return `${p.host}@${p.sentAt}`;
          }),
        );
        return new Promise((resolve, reject) => (release = (err) => (err ? reject(err) : resolve())));
      },
    });
  }
  beforeEach(() => open());

  /** Releases batches one by one until the queue is idle. */
  async function drain(err?: Error) {
    for (let i = 0; i < 1000 && (queue.size > 0 || batches.length > 0); i++) {
      const before = batches.length;
      release(err);
      await tick();
      if (batches.length === before && queue.size === 0) break;
    }
    await queue.drained();
  }

  it('keeps only the newest queued heartbeat of a host and key, in the place of the first', async () => {
    queue.push(heartbeat('busy', 1), 1);
    await tick(); // being handled
    queue.push(heartbeat('web1', 10), 2);
    queue.push(heartbeat('web2', 10), 3);
    queue.push(heartbeat('web1', 30), 4);
    queue.push(heartbeat('web1', 20), 5); // sent before the one queued: dropped
    queue.push(heartbeat('web1', 40, generateSigningKey()), 6); // another key: its own slot
    queue.push(heartbeat('web1', 50, KEY, generateSigningKey()), 7); // KEY announced, not signed with it: its own slot
    expect(queue.size).toBe(4);
    await drain();
    expect(handled()).toEqual(['busy@1', 'web1@30', 'web2@10', 'web1@40', 'web1@50']);
  });

  it('hands the handler what was queued meanwhile as one batch, one heartbeat per host, at most maxBatch', async () => {
    open(3);
    queue.push(heartbeat('busy', 1), 1);
    await tick(); // a batch of one, being handled
    for (const host of ['a', 'b', 'c', 'd']) queue.push(heartbeat(host, 2), 2);
    queue.push(heartbeat('a', 3, generateSigningKey()), 3); // a's other key: the next batch
    await drain();
    expect(batches).toEqual([['busy@1'], ['a@2', 'b@2', 'c@2'], ['d@2', 'a@3']]);
  });

  it(`drops the oldest queued past its cap with one warning per 30 s counting the drops, and says when it emptied`, async () => {
    queue.push(heartbeat('h0', 1), 1);
    await tick(); // being handled, never answered until released
    for (let i = 1; i < 50; i++) queue.push(heartbeat(`h${i}`, 1), 1);
    expect(queue.size).toBe(10);
    clock.advance(30_000);
    queue.push(heartbeat('h50', 1), 1);
    expect(lines.map((l) => [l.level, l.failures, l.max])).toEqual([
      [40, 1, 10],
      [40, 39, 10],
    ]);
    await drain();
    expect(handled()).toEqual(['h0@1', ...Array.from({ length: 10 }, (_, i) => `h${41 + i}@1`)]);
    expect(lines[2]).toMatchObject({ level: 30, failures: 40, msg: expect.stringMatching(/emptied/) });
  });

  it('logs a failing batch once, then once per 30 s with a count, and once when one works again', async () => {
    for (let i = 0; i < 5; i++) {
      queue.push(heartbeat(`h${i}`, 1), 1);
      await drain(new Error('connection timeout'));
    }
    clock.advance(30_000);
    for (let i = 5; i < 8; i++) {
      queue.push(heartbeat(`h${i}`, 1), 1);
      await drain(new Error('connection timeout'));
    }
    queue.push(heartbeat('h9', 1), 1);
    await drain();
    expect(lines.map((l) => [l.level, l.msg, l.failures, l.host])).toEqual([
      [50, 'presence message not recorded', 1, 'h0'],
      [50, 'presence message not recorded', 5, 'h5'],
      [30, 'presence messages recorded again', 8, undefined],
    ]);
  });

  it('gives a malformed message a slot of its own and drops what is queued at stop', async () => {
    queue.push(heartbeat('busy', 1), 1);
    await tick();
    queue.push({ content: Buffer.from('{'), properties: {} }, 1);
    queue.push({ content: Buffer.from('{'), properties: {} }, 1);
    queue.push(heartbeat('web1', 1), 1);
    expect(queue.size).toBe(3);
    const stopped = queue.stop();
    expect(queue.size).toBe(0);
    release();
    await stopped;
    expect(handled()).toEqual(['busy@1']);
  });
});
