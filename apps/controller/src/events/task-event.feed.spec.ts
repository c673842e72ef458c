import { EventEmitter } from 'node:events';
import type { Channel, ConsumeMessage } from '@warren/amqp';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderEventId } from './event-id';
import type { EventNote } from './event-note';
import type { StreamChannels } from './stream-channels';
import { type FeedContext, REPAIR_AGAIN_MS, TaskEventFeed } from './task-event.feed';
import { chunk, started } from './task-events.fixtures';
import type { StoredTaskState, StreamItem, TaskEvent } from './task-stream';

/** A channel consuming a stream: what the reader asks of amqplib, and a way to deliver. */
class FakeChannel extends EventEmitter {
  deliver: ((m: ConsumeMessage) => void) | null = null;
  from: unknown = null;
  acked = 0;
  async prefetch() {}
  async consume(_q: string, cb: (m: ConsumeMessage) => void, opts: { arguments: Record<string, unknown> }) {
    this.deliver = cb;
    this.from = opts.arguments['x-stream-offset'];
    return { consumerTag: 'c1' };
  }
  ack() {
    this.acked++;
  }
  async close() {
    this.emit('close');
  }
}

/** The stream's messages carry their item as JSON; `decode` reads it back (the verifying is TaskEvents'). */
const message = (offset: number, item: StreamItem) =>
  ({
    content: Buffer.from(JSON.stringify(item)),
    fields: {},
    properties: { headers: { 'x-stream-offset': offset } },
  }) as unknown as ConsumeMessage;

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
};

/** A feed of task `t1` over fake stream channels, recording what it delivers, reads and announces. */
function openFeed(
  feeds: TaskEventFeed[],
  {
    stored,
    after = null,
    decode = async (_taskId, m) => JSON.parse(m.content.toString()) as StreamItem,
    drained = async () => undefined,
    checkMs,
  }: {
    stored: () => StoredTaskState;
    after?: TaskEvent['at'] | null;
    decode?: FeedContext['decode'];
    drained?: () => Promise<void>;
    /** ms between the feed's store checks */
    checkMs: number;
  },
) {
  const channels: FakeChannel[] = [];
  const notes: EventNote[] = [];
  const got: string[] = [];
  const reads = { full: 0, counts: 0, failed: 0, ended: 0 };
  const ctx: FeedContext = {
    channels: {
      open: async () => {
        const ch = new FakeChannel();
        channels.push(ch);
        return ch as unknown as Channel;
      },
    } as unknown as StreamChannels,
    stream: 'test.events',
    decode,
    counts: async () => {
      reads.counts++;
      const s = stored();
      const counts: Record<string, number> = {};
      for (const r of s.invocations) counts[r.state] = (counts[r.state] ?? 0) + 1;
      return { state: s.state, counts };
    },
    stored: async () => (reads.full++, stored()),
    publishNote: (n) => notes.push(n),
    logger: pino({ level: 'silent' }),
    checkMs,
    prefetch: 8,
  };
  const feed = new TaskEventFeed(ctx, 't1', new Date(1_000_000), after, {
    deliver: async (events) => {
      got.push(...events.map((e) => `${renderEventId(e.at)} ${e.event}`));
      await drained();
    },
    fail: () => void reads.failed++,
    end: () => void reads.ended++,
  });
  feeds.push(feed);
  feed.start();
  return { feed, channels, notes, got, reads };
}

describe('TaskEventFeed', () => {
  const feeds: TaskEventFeed[] = [];
  afterEach(async () => {
    await Promise.all(feeds.map((f) => f.close()));
    feeds.length = 0;
  });

  const make = (
    stored: () => StoredTaskState,
    after: TaskEvent['at'] | null = null,
    decode?: FeedContext['decode'],
    drained?: () => Promise<void>,
  ) => openFeed(feeds, { stored, after, decode, drained, checkMs: 20 });

  it('reads the stream from the task’s start time, hands on its events in order, and acks each message', async () => {
    const { channels, got } = make(() => ({ state: 'running', invocations: [] }));
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    expect(channels[0].from).toEqual({ '!': 'timestamp', value: 1_000 });
    channels[0].deliver!(message(7, { kind: 'started', message: started('i1', 'web1') }));
    channels[0].deliver!(message(9, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'a\n') }));
    await until(() => got.length === 2);
    expect(got).toEqual(['7-0 started', '9-0 output']);
    expect(channels[0].acked).toBe(2);
  });

  it('after a lost channel, reads on from the offset after the last one handled: nothing twice, nothing skipped', async () => {
    const { channels, got } = make(() => ({ state: 'running', invocations: [] }));
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(7, { kind: 'started', message: started('i1', 'web1') }));
    await until(() => got.length === 1);
    channels[0].emit('close'); // the broker connection went
    await until(() => channels.length === 2 && channels[1].deliver !== null);
    expect(channels[1].from).toBe(8);
    // The broker starts at the chunk holding offset 8: earlier messages may come again, and are skipped.
    channels[1].deliver!(message(7, { kind: 'started', message: started('i1', 'web1') }));
    channels[1].deliver!(message(8, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'a\n') }));
    await until(() => got.length === 2);
    expect(got).toEqual(['7-0 started', '8-0 output']);
  });

  it('announces, after two store checks, what the store holds and no note said (its committer died first): results, then completion', async () => {
    let stored: StoredTaskState = { state: 'running', invocations: [{ id: 'i1', state: 'running' }] };
    const { channels, notes } = make(() => stored);
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    stored = { state: 'completed', invocations: [{ id: 'i1', state: 'succeeded' }] };
    await until(() => notes.length === 1);
    expect(notes[0]).toEqual({
      v: 1,
      repair: true,
      results: [{ taskId: 't1', invocationId: 'i1', state: 'succeeded' }],
      completed: [{ taskId: 't1', invocations: 1 }],
    });
    await new Promise((r) => setTimeout(r, 100)); // several checks: announced once, while it comes back
    expect(notes).toHaveLength(1);
  });

  it("announces nothing the stream's notes already said", async () => {
    const stored: StoredTaskState = { state: 'completed', invocations: [{ id: 'i1', state: 'failed' }] };
    const { channels, notes, got, reads } = make(() => stored);
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    const note: EventNote = {
      v: 1,
      results: [{ taskId: 't1', invocationId: 'i1', state: 'failed' }],
      completed: [{ taskId: 't1' }],
    };
    channels[0].deliver!(message(3, { kind: 'note', note }));
    await until(() => got.length === 3);
    expect(got).toEqual(['3-0 started', '3-1 result', '3-2 completed']);
    const before = reads.full;
    await new Promise((r) => setTimeout(r, 100));
    expect(notes).toEqual([]);
    expect(reads.full).toBe(before); // the counts agree: no invocation is read, nor its output
  });

  it('from a Last-Event-ID, hands on only what follows it, though it reads from the start', async () => {
    const { channels, got } = make(() => ({ state: 'running', invocations: [] }), { offset: 7, k: 0 });
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(7, { kind: 'started', message: started('i1', 'web1') }));
    channels[0].deliver!(message(9, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'a\n') }));
    await until(() => got.length === 1);
    expect(got).toEqual(['9-0 output']);
    expect(channels[0].acked).toBe(2);
  });

  it('ends the session rather than skip a message it could not check (the store did not answer)', async () => {
    let down = true;
    const { channels, got, reads } = make(
      () => ({ state: 'running', invocations: [] }),
      null,
      async (_taskId, m) => {
        if (down) throw new Error('database away');
        return JSON.parse(m.content.toString()) as StreamItem;
      },
    );
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(7, { kind: 'started', message: started('i1', 'web1') }));
    await until(() => reads.failed === 1);
    down = false;
    channels[0].deliver!(message(8, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'a\n') }));
    await new Promise((r) => setTimeout(r, 30));
    expect(got).toEqual([]); // nothing after the gap: the client resumes from its last id
  });
});

describe('TaskEventFeed, behind the tail or past the end', () => {
  const feeds: TaskEventFeed[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(feeds.map((f) => f.close()));
    feeds.length = 0;
  });
  const done: StoredTaskState = { state: 'completed', invocations: [{ id: 'i1', state: 'succeeded' }] };
  const NOTE: EventNote = {
    v: 1,
    results: [{ taskId: 't1', invocationId: 'i1', state: 'succeeded' }],
    completed: [{ taskId: 't1' }],
  };

  const open = (stored: () => StoredTaskState, after: TaskEvent['at'] | null = null, drained?: () => Promise<void>) =>
    openFeed(feeds, { stored, after, drained, checkMs: 10 });

  it('announces nothing and reads nothing from the store while a client that does not drain holds back the note it has not read', async () => {
    const { channels, notes, got, reads } = open(
      () => done,
      null,
      () => new Promise(() => undefined), // the client's socket never drains
    );
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(1, { kind: 'started', message: started('i1', 'web1') }));
    channels[0].deliver!(message(2, { kind: 'note', note: NOTE })); // the committer's own note, behind the stuck client
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 200)); // some twenty checks
    expect(notes).toEqual([]);
    expect(reads).toMatchObject({ full: 0, counts: 0 });
  });

  it('announces what never came at most once per REPAIR_AGAIN_MS, and again after it when the repair was lost too', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { channels, notes } = open(() => done);
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    await until(() => notes.length === 1);
    expect(notes[0]).toMatchObject({ repair: true, completed: [{ taskId: 't1' }] });
    vi.setSystemTime(Date.now() + REPAIR_AGAIN_MS - 1_000); // not yet: a repair on its way is not sent twice
    await new Promise((r) => setTimeout(r, 100));
    expect(notes).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1_000); // the repair never came back (lost too): once more, so the session can end
    await until(() => notes.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(notes).toHaveLength(2);
  });

  it('ends the session of a done task whose completed lies before the Last-Event-ID (one past its end, or from a stream declared again)', async () => {
    const { channels, got, reads } = open(() => done, { offset: 999_999_999, k: 0 });
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(1, { kind: 'started', message: started('i1', 'web1') }));
    channels[0].deliver!(message(2, { kind: 'note', note: NOTE }));
    await until(() => reads.ended === 1);
    expect(got).toEqual([]);
  });

  it('goes on after a completed before the Last-Event-ID when the store says the task runs again', async () => {
    const { channels, got, reads } = open(() => ({ state: 'running', invocations: [{ id: 'i1', state: 'running' }] }), {
      offset: 2,
      k: 2,
    });
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    // i1 guessed undelivered, the task completed; then the host's late `started`: it ran after all.
    const guessed: EventNote = { ...NOTE, results: [{ taskId: 't1', invocationId: 'i1', state: 'undelivered' }] };
    channels[0].deliver!(message(2, { kind: 'note', note: guessed }));
    channels[0].deliver!(message(5, { kind: 'started', message: started('i1', 'web1') }));
    await until(() => got.length === 1);
    expect(got).toEqual(['5-0 started']);
    expect(reads.ended).toBe(0);
  });

  it('does not end at the first run’s completed when the resume point lies in the second run', async () => {
    const runs: EventNote[] = ['undelivered', 'succeeded'].map((state) => ({
      v: 1,
      results: [{ taskId: 't1', invocationId: 'i1', state: state as 'succeeded' }],
      completed: [{ taskId: 't1' }],
    }));
    const { channels, got } = open(() => done, { offset: 5, k: 0 });
    await until(() => channels[0]?.deliver !== null && channels.length === 1);
    channels[0].deliver!(message(2, { kind: 'note', note: runs[0] }));
    channels[0].deliver!(message(5, { kind: 'started', message: started('i1', 'web1') }));
    channels[0].deliver!(message(6, { kind: 'note', note: runs[1] }));
    await until(() => got.length === 2);
    expect(got).toEqual(['6-0 result', '6-1 completed']);
  });
});
