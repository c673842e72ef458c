import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeChanges, encodeChanges, MAX_IDS_PER_LIST } from './changes.message';
import { ChangesRelay } from './changes.relay';

const ME = 'aaaa0001';
const OTHER = 'bbbb0002';

function relay(connected = true) {
  const sent: Buffer[] = [];
  const heard = { changed: [] as string[][], completed: [] as string[][], hostKeys: [] as string[][] };
  const r = new ChangesRelay({
    instanceId: ME,
    tickMs: 15,
    send: (b) => (connected ? (sent.push(b), true) : false),
    sink: {
      changed: (ids) => heard.changed.push(ids),
      completed: (ids) => heard.completed.push(ids),
      hostKeys: (hosts) => heard.hostKeys.push(hosts),
    },
    logger: pino({ level: 'silent' }),
  });
  const messages = () => sent.map((b) => JSON.parse(b.toString()) as Record<string, unknown>);
  return { r, sent, heard, messages };
}

describe('ChangesRelay: announcing local commits', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('coalesces the commits of one tick into one message, ids once each', async () => {
    const { r, messages } = relay();
    r.noteTasks(['t_a', 't_b']);
    r.noteTasks(['t_a'], ['t_a']);
    r.noteHostKeys(['web1', 'web1']);
    expect(messages()).toEqual([]);
    await vi.advanceTimersByTimeAsync(15);
    expect(messages()).toEqual([{ v: 1, from: ME, changed: ['t_a', 't_b'], completed: ['t_a'], hostKeys: ['web1'] }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(messages()).toHaveLength(1); // nothing noted since: nothing sent
    r.noteTasks(['t_c']);
    await vi.advanceTimersByTimeAsync(15);
    expect(messages()[1]).toEqual({ v: 1, from: ME, changed: ['t_c'], completed: [] });
  });

  it('splits a batch larger than a message holds', async () => {
    const { r, messages } = relay();
    r.noteTasks(Array.from({ length: MAX_IDS_PER_LIST + 5 }, (_, i) => `t_${i}`));
    await vi.advanceTimersByTimeAsync(15);
    expect(messages().map((m) => (m.changed as string[]).length)).toEqual([MAX_IDS_PER_LIST, 5]);
    for (const b of messages()) expect(decodeChanges(Buffer.from(JSON.stringify(b))).ok).toBe(true);
  });

  it('counts a message it could not send (broker away) and carries on', async () => {
    const { r } = relay(false);
    r.noteTasks(['t_a']);
    await vi.advanceTimersByTimeAsync(15);
    expect(r.counts).toMatchObject({ sent: 0, unsent: 1 });
  });

  it('sends what is noted when closed, and nothing after', async () => {
    const { r, messages } = relay();
    r.noteTasks(['t_a']);
    r.close();
    expect(messages()).toHaveLength(1);
    r.noteTasks(['t_b']);
    await vi.advanceTimersByTimeAsync(100);
    expect(messages()).toHaveLength(1);
  });
});

describe('ChangesRelay: receiving another controller’s news', () => {
  it('hands changed tasks, completed tasks and host keys to the sink', () => {
    const { r, heard } = relay();
    r.receive(encodeChanges({ v: 1, from: OTHER, changed: ['t_a'], completed: ['t_a'], hostKeys: ['web1'] }));
    expect(heard).toEqual({ changed: [['t_a']], completed: [['t_a']], hostKeys: [['web1']] });
    expect(r.counts.received).toBe(1);
  });

  it('ignores its own messages, which the fanout brings back', () => {
    const { r, heard } = relay();
    r.receive(encodeChanges({ v: 1, from: ME, changed: ['t_a'], completed: ['t_a'], hostKeys: ['web1'] }));
    expect(heard).toEqual({ changed: [], completed: [], hostKeys: [] });
  });

  it.each([
    ['not JSON', Buffer.from('{"v":1,')],
    ['not an object', Buffer.from('[1]')],
    ['unknown version', Buffer.from(JSON.stringify({ v: 2, from: OTHER, changed: [], completed: [] }))],
    ['from is not an instance id', Buffer.from(JSON.stringify({ v: 1, from: 'x y', changed: [], completed: [] }))],
    ['changed is not a list', Buffer.from(JSON.stringify({ v: 1, from: OTHER, changed: 't_a', completed: [] }))],
    ['changed holds an invalid id', Buffer.from(JSON.stringify({ v: 1, from: OTHER, changed: [7], completed: [] }))],
    [
      'completed holds an invalid id',
      Buffer.from(JSON.stringify({ v: 1, from: OTHER, changed: [], completed: ['t a; DROP'] })),
    ],
    [
      'hostKeys holds an invalid id',
      Buffer.from(JSON.stringify({ v: 1, from: OTHER, changed: [], completed: [], hostKeys: ['../etc'] })),
    ],
    [
      'more than',
      Buffer.from(
        JSON.stringify({ v: 1, from: OTHER, changed: Array(MAX_IDS_PER_LIST + 1).fill('t_a'), completed: [] }),
      ),
    ],
    ['larger than', Buffer.alloc(300 * 1024, 0x20)],
  ])('drops a message whose %s, logged, and tells nothing', (reason, body) => {
    const { r, heard } = relay();
    const decoded = decodeChanges(body);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toContain(reason);
    r.receive(body);
    expect(heard).toEqual({ changed: [], completed: [], hostKeys: [] });
    expect(r.counts.rejected).toBe(1);
  });
});
