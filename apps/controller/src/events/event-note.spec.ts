import { describe, expect, it } from 'vitest';
import { decodeNote, encodeNote, MAX_NOTE_ENTRIES } from './event-note';

describe('events notes', () => {
  it('round-trips a note, keeping only the fields it knows', () => {
    const note = {
      v: 1 as const,
      results: [{ taskId: 't_a', invocationId: 'i_1', state: 'succeeded' as const }],
      completed: [{ taskId: 't_a', invocations: 3 }, { taskId: 't_b' }],
      repair: true as const,
    };
    expect(decodeNote(encodeNote(note))).toEqual({ ok: true, note });
    const extra = Buffer.from(
      JSON.stringify({ ...note, evil: 1, results: [{ ...note.results[0], data: 'x' }], repair: 'yes' }),
    );
    expect(decodeNote(extra)).toEqual({
      ok: true,
      note: { v: 1, results: note.results, completed: note.completed },
    });
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['not an object', Buffer.from('[]')],
    ['unknown version', Buffer.from(JSON.stringify({ v: 2, results: [], completed: [] }))],
    ['lists missing', Buffer.from(JSON.stringify({ v: 1, results: [] }))],
    [
      'a result entry is malformed',
      Buffer.from(
        JSON.stringify({ v: 1, results: [{ taskId: 't', invocationId: 'i', state: 'exploded' }], completed: [] }),
      ),
    ],
    [
      'a result entry is malformed',
      Buffer.from(
        JSON.stringify({ v: 1, results: [{ taskId: 't a', invocationId: 'i', state: 'lost' }], completed: [] }),
      ),
    ],
    ['a completed entry is malformed', Buffer.from(JSON.stringify({ v: 1, results: [], completed: [{}] }))],
    ...[-1, 1.5, '3', null].map((invocations): [string, Buffer] => [
      'a completed entry is malformed',
      Buffer.from(JSON.stringify({ v: 1, results: [], completed: [{ taskId: 't', invocations }] })),
    ]),
    [
      'too many entries',
      Buffer.from(JSON.stringify({ v: 1, results: [], completed: Array(MAX_NOTE_ENTRIES + 1).fill({ taskId: 't' }) })),
    ],
    ['larger than', Buffer.alloc(300 * 1024, 0x20)],
  ])('drops a note when %s', (reason, body) => {
    const d = decodeNote(body);
    expect(d.ok).toBe(false);
    expect(d.ok ? '' : d.reason).toContain(reason);
  });
});
