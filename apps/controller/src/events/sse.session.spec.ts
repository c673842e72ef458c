import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { EventPosition } from './event-id';
import { SseSession } from './sse.session';
import type { FeedSink } from './task-event.feed';
import type { SentEvent, TaskEvents } from './task-events.service';
import type { TaskEvent } from './task-stream';

/** The slice of a ServerResponse a session uses, recording what it writes; `full` makes writes report a full buffer. */
class FakeResponse extends EventEmitter {
  written = '';
  writableEnded = false;
  status = 0;
  full = false;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  write(s: string) {
    this.written += s;
    return !this.full;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
}

/** TaskEvents as a session sees it: the feed's sink handed to the test, events rendered as `{ n }`. */
function fakeEvents(store: { reading?: boolean; done?: SentEvent[] | null } = {}) {
  const state = { sink: null as FeedSink | null, after: undefined as EventPosition | null | undefined, closed: 0 };
  const feed = { reading: store.reading ?? true };
  const events = {
    feed: (_id: string, _at: number, after: EventPosition | null, sink: FeedSink) => {
      state.sink = sink;
      state.after = after;
      return feed;
    },
    fromStore: async () => store.done ?? null,
    close: async () => void state.closed++,
    render: async (_id: string, es: TaskEvent[]): Promise<SentEvent[]> =>
      es.map((e) => ({ id: `${e.at.offset}-${e.at.k}`, event: e.event, data: { n: e.at.offset } })),
  } as unknown as TaskEvents;
  return { events, state, feed };
}

const ev = (offset: number, event: TaskEvent['event']): TaskEvent => ({
  at: { offset, k: 0 },
  event,
  invocationId: null,
  data: null,
});

describe('SseSession', () => {
  it('writes the feed’s events as text/event-stream, from the Last-Event-ID on, and ends after completed', async () => {
    const { events, state } = fakeEvents();
    const res = new FakeResponse();
    new SseSession(res as unknown as ServerResponse, events, { id: 't1', createdAt: 1_000 }).start({ offset: 4, k: 0 });
    expect(res.status).toBe(200);
    expect(state.after).toEqual({ offset: 4, k: 0 });
    await state.sink!.deliver([ev(5, 'output'), ev(6, 'result')]);
    expect(res.written).toContain('id: 5-0\nevent: output\ndata: {"n":5}\n\n');
    expect(res.writableEnded).toBe(false);
    await state.sink!.deliver([ev(9, 'completed')]);
    expect(res.written).toMatch(/id: 9-0\nevent: completed\n.*\n\n$/);
    expect(res.writableEnded).toBe(true);
    expect(state.closed).toBe(1);
  });

  it('holds the feed back until a slow client has drained what was written', async () => {
    const { events, state } = fakeEvents();
    const res = new FakeResponse();
    new SseSession(res as unknown as ServerResponse, events, { id: 't1', createdAt: 1_000 }).start(null);
    res.full = true;
    let taken = false;
    const delivering = state.sink!.deliver([ev(5, 'output')]).then(() => (taken = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(taken).toBe(false);
    res.full = false;
    res.emit('drain');
    await delivering;
    expect(taken).toBe(true);
    expect(res.listenerCount('drain')).toBe(0);
    res.emit('close');
    expect(state.closed).toBe(1);
  });

  it('ends an open stream once its token is no longer valid, and keeps one whose token holds', async () => {
    const { events } = fakeEvents();
    let revoked = false;
    const kept = new FakeResponse();
    const cut = new FakeResponse();
    const task = { id: 't1', createdAt: 1_000 };
    new SseSession(kept as unknown as ServerResponse, events, task, 60_000, async () => true, 5).start(null);
    new SseSession(cut as unknown as ServerResponse, events, task, 60_000, async () => !revoked, 5).start(null);
    await new Promise((r) => setTimeout(r, 30));
    expect(cut.writableEnded).toBe(false);
    revoked = true;
    await new Promise((r) => setTimeout(r, 30));
    expect(cut.writableEnded).toBe(true);
    expect(cut.written).toMatch(/: token no longer valid\n\n$/);
    expect(kept.writableEnded).toBe(false);
    kept.emit('close');
  });

  it('serves a done task from the store and ends when the events stream stays out of reach (the broker is away)', async () => {
    const done: SentEvent[] = [
      { id: '00000000.1', event: 'result', data: { host: 'h1' } },
      { id: '00000000.2', event: 'completed', data: { state: 'completed' } },
    ];
    const { events } = fakeEvents({ reading: false, done });
    const res = new FakeResponse();
    const task = { id: 't1', createdAt: 1_000 };
    new SseSession(res as unknown as ServerResponse, events, task, 60_000, async () => true, 60_000, 5).start(null);
    await new Promise((r) => setTimeout(r, 30));
    expect(res.written).toMatch(/id: 00000000.1\nevent: result\n.*\n\nid: 00000000.2\nevent: completed\n.*\n\n$/);
    expect(res.writableEnded).toBe(true);
  });

  it('waits on the feed for a running task, or once the feed reads the stream', async () => {
    const task = { id: 't1', createdAt: 1_000 };
    const done: SentEvent[] = [{ id: '00000000.1', event: 'completed', data: {} }];
    const running = new FakeResponse();
    new SseSession(
      running as unknown as ServerResponse,
      fakeEvents({ reading: false, done: null }).events,
      task,
      60_000,
      async () => true,
      60_000,
      5,
    ).start(null);
    const reading = new FakeResponse();
    new SseSession(
      reading as unknown as ServerResponse,
      fakeEvents({ reading: true, done }).events,
      task,
      60_000,
      async () => true,
      60_000,
      5,
    ).start(null);
    await new Promise((r) => setTimeout(r, 30));
    for (const res of [running, reading]) {
      expect(res.writableEnded).toBe(false);
      expect(res.written).not.toContain('event:');
      res.emit('close');
    }
  });
});
