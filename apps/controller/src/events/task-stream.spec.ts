import { describe, expect, it } from 'vitest';
import type { EventNote } from './event-note';
import { renderEventId } from './event-id';
import { chunk, started } from './task-events.fixtures';
import { type StreamItem, TaskStream } from './task-stream';

const note = (
  results: [string, string][],
  completed: string[] = [],
  taskId = 't1',
  invocations?: number,
): StreamItem => ({
  kind: 'note',
  note: {
    v: 1,
    results: results.map(([invocationId, state]) => ({ taskId, invocationId, state })) as EventNote['results'],
    completed: completed.map((t) => (invocations === undefined ? { taskId: t } : { taskId: t, invocations })),
  },
});

/** A stream as the broker would hold it: two hosts of t1, another task's messages between. */
const STREAM: StreamItem[] = [
  { kind: 'started', message: started('i1', 'web1') },
  { kind: 'started', message: started('x1', 'web9', 't2') },
  { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'a\n') },
  { kind: 'started', message: started('i2', 'web2') },
  { kind: 'output', message: chunk('x1', 'web9', 0, 0, 'other\n', 't2') },
  { kind: 'output', message: chunk('i1', 'web1', 1, 2, 'b\n') },
  { kind: 'output', message: chunk('i1', 'web1', 1, 2, 'b\n') }, // a copy: dropped
  { kind: 'output', message: chunk('i2', 'web2', 0, 0, 'c\n') },
  note([['i1', 'succeeded']]),
  { kind: 'output', message: chunk('i1', 'web1', 2, 4, 'late\n') }, // after its result: dropped
  note([['i1', 'succeeded']]), // announced twice (a repair): once
  note([['i2', 'failed']], ['t1']),
];

function readAll(s: TaskStream, from = 0) {
  return STREAM.flatMap((item, offset) => (offset < from ? [] : s.accept(offset, item)));
}
const shown = (events: ReturnType<typeof readAll>) =>
  events.map((e) => `${renderEventId(e.at)} ${e.event} ${e.invocationId ?? ''}`.trim());

describe('TaskStream', () => {
  it("derives one task's events from the stream, with ids from offsets, each chunk once and in order", () => {
    expect(shown(readAll(new TaskStream('t1')))).toEqual([
      '0-0 started i1',
      '2-0 output i1',
      '3-0 started i2',
      '5-0 output i1',
      '7-0 output i2',
      '8-0 result i1',
      '11-0 result i2',
      '11-1 completed',
    ]);
  });

  it('gives every reader the same events and ids: a resume after an id gets exactly the rest', () => {
    const all = readAll(new TaskStream('t1'));
    for (let i = 0; i < all.length; i++) {
      const rest = readAll(new TaskStream('t1', all[i].at));
      expect(shown(rest)).toEqual(shown(all.slice(i + 1)));
    }
  });

  it('precedes a result with a started when no started was read (a host whose reply came before the stream start)', () => {
    const s = new TaskStream('t1');
    expect(shown(s.accept(40, note([['i9', 'undelivered']])))).toEqual(['40-0 started i9', '40-1 result i9']);
  });

  it('lets an invocation guessed undelivered run after all: its started, its chunks, a second result and completion', () => {
    const s = new TaskStream('t1');
    expect(shown(s.accept(1, note([['i1', 'undelivered']], ['t1'])))).toEqual([
      '1-0 started i1', // rendered from the store: none, since it never started
      '1-1 result i1',
      '1-2 completed',
    ]);
    expect(s.accept(2, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'x') })).toEqual([]);
    expect(shown(s.accept(3, { kind: 'started', message: started('i1', 'web1') }))).toEqual(['3-0 started i1']);
    expect(shown(s.accept(4, { kind: 'output', message: chunk('i1', 'web1', 0, 0, 'x') }))).toEqual(['4-0 output i1']);
    expect(s.unannounced({ state: 'completed', invocations: [{ id: 'i1', state: 'succeeded' }] })).toEqual({
      results: [{ invocationId: 'i1', state: 'succeeded' }],
      completed: true,
    });
    expect(shown(s.accept(5, note([['i1', 'succeeded']], ['t1'])))).toEqual(['5-0 result i1', '5-1 completed']);
  });

  it('says what the store holds and no note announced: terminal invocations, then the completion', () => {
    const s = new TaskStream('t1');
    s.accept(0, note([['i1', 'succeeded']]));
    const stored = {
      state: 'completed' as const,
      invocations: [
        { id: 'i1', state: 'succeeded' as const },
        { id: 'i2', state: 'lost' as const },
        { id: 'i3', state: 'running' as const },
      ],
    };
    expect(s.unannounced(stored)).toEqual({ results: [{ invocationId: 'i2', state: 'lost' }], completed: true });
    s.accept(1, note([['i2', 'lost']], ['t1']));
    expect(s.unannounced(stored)).toEqual({ results: [], completed: false });
    expect(s.unannounced({ ...stored, state: 'running' }).completed).toBe(false);
  });

  it("agrees with the store's counts only when every terminal state and the completion were announced", () => {
    const s = new TaskStream('t1');
    s.accept(0, note([['i1', 'undelivered']]));
    expect(s.agrees({ state: 'running', counts: { undelivered: 1, running: 1 } })).toBe(true);
    expect(s.agrees({ state: 'running', counts: { succeeded: 1, running: 1 } })).toBe(false); // i1 ran after all
    expect(s.agrees({ state: 'running', counts: { undelivered: 1, lost: 1 } })).toBe(false);
    expect(s.agrees({ state: 'completed', counts: { undelivered: 1, lost: 1 } })).toBe(false);
    s.accept(1, note([['i2', 'lost']], ['t1']));
    expect(s.agrees({ state: 'completed', counts: { undelivered: 1, lost: 1 } })).toBe(true);
  });

  it("holds a completed whose note counts more invocations than have a result until the other controller's later note brings them, the same for every reader", () => {
    // Controller B completed the task (web2's result) before controller A's note of web1's reached the stream.
    const stream: StreamItem[] = [
      { kind: 'started', message: started('i1', 'web1') },
      { kind: 'started', message: started('i2', 'web2') },
      note([['i2', 'succeeded']], ['t1'], 't1', 2),
      { kind: 'started', message: started('x1', 'web9', 't2') },
      note([['i1', 'failed']]),
    ];
    const read = (s: TaskStream) => stream.flatMap((item, offset) => s.accept(offset, item));
    const all = read(new TaskStream('t1'));
    expect(shown(all)).toEqual(['0-0 started i1', '1-0 started i2', '2-0 result i2', '4-0 result i1', '4-1 completed']);
    for (let i = 0; i < all.length; i++)
      expect(shown(read(new TaskStream('t1', all[i].at)))).toEqual(shown(all.slice(i + 1)));
    // Until then the session is not done, and the store check sees the completion unannounced.
    const s = new TaskStream('t1');
    stream.slice(0, 4).forEach((item, offset) => s.accept(offset, item));
    expect(s.done).toBe(false);
    expect(s.agrees({ state: 'completed', counts: { succeeded: 1, failed: 1 } })).toBe(false);
    expect(
      s.unannounced({
        state: 'completed',
        invocations: [
          { id: 'i1', state: 'failed' },
          { id: 'i2', state: 'succeeded' },
        ],
      }),
    ).toEqual({
      results: [{ invocationId: 'i1', state: 'failed' }],
      completed: true,
    });
  });

  it('drops a held completed when the task runs again, and tells a completed given before the resume point', () => {
    const s = new TaskStream('t1', { offset: 5, k: 0 });
    s.accept(0, note([['i1', 'undelivered']], ['t1'], 't1', 2));
    expect(s.completedJustNow).toBe(false);
    s.accept(1, { kind: 'started', message: started('i1', 'web1') }); // ran after all: not done
    expect(shown(s.accept(2, note([['i2', 'lost']])))).toEqual([]);
    expect(s.done).toBe(false);
    expect(s.accept(3, note([['i1', 'succeeded']], ['t1'], 't1', 2))).toEqual([]); // at or before the resume point
    expect([s.done, s.completedJustNow]).toEqual([true, true]);
    s.accept(4, { kind: 'started', message: started('x1', 'web9', 't2') });
    expect(s.completedJustNow).toBe(false);
  });

  it("keeps a held completed when an invocation's first started comes late, and takes a started after a real outcome for a late copy", () => {
    const s = new TaskStream('t1');
    s.accept(0, { kind: 'started', message: started('i2', 'web2') });
    s.accept(1, note([['i2', 'succeeded']], ['t1'], 't1', 2)); // held: i1 has no result yet
    expect(shown(s.accept(2, { kind: 'started', message: started('i1', 'web1') }))).toEqual(['2-0 started i1']);
    expect(shown(s.accept(3, note([['i1', 'failed']])))).toEqual(['3-0 result i1', '3-1 completed']);
    // A copy of i2's started after its real outcome: no second started, the task stays done.
    expect(s.accept(4, { kind: 'started', message: started('i2', 'web2') })).toEqual([]);
    expect(s.done).toBe(true);
  });
});
