import { INVOCATION_STATES, type InvocationState } from '@warren/protocol';

/** AMQP `type` property of a controller's note in the events stream (agent replies carry none). */
export const NOTE_TYPE = 'warren.events-note';

/**
 * What a controller appends to the events stream after a commit (JSON, published to the notes
 * exchange, which only controllers may write to; a message of the stream is a note only when it
 * came through that exchange): exactly which invocations became terminal, in which state, and which tasks completed. An
 * SSE session turns it into `result` and `completed` events whose ids are the note's offset, the
 * same on every controller; their data is read from the store when sent. A session that finds in
 * the store what no note announced publishes the note itself (`repair`), see `TaskStream`.
 */
export interface EventNote {
  /** format version, 1 */
  v: 1;
  /** invocations that reached a terminal state in the commit */
  results: { taskId: string; invocationId: string; state: InvocationState }[];
  /**
   * tasks the commit completed (reached a state other than `running`), each with its number of
   * invocations when the committer could read it: a session holds the task's `completed` until
   * it has read a result for that many invocations, so a result another controller committed
   * earlier but whose note reached the stream later still comes first (notes of two controllers
   * reach the stream in any order). Absent (an older controller, a store that did not answer):
   * `completed` goes out when read.
   */
  completed: { taskId: string; invocations?: number }[];
  /** sent by a session that found these in the store with no note (the committer died before sending it) */
  repair?: true;
}

/** bytes; a larger note is dropped unread (a sender splits larger batches) */
export const MAX_NOTE_BYTES = 256 * 1024;
/** entries per list of one note: about 100 bytes each, well under {@link MAX_NOTE_BYTES} */
export const MAX_NOTE_ENTRIES = 1_000;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const isId = (v: unknown) => typeof v === 'string' && ID.test(v);
const INVOCATION_STATE_SET = new Set<string>(INVOCATION_STATES);

export function encodeNote(n: EventNote): Buffer {
  return Buffer.from(JSON.stringify(n));
}

/** A note read from the stream, or why it was dropped; never throws. */
export function decodeNote(body: Buffer): { ok: true; note: EventNote } | { ok: false; reason: string } {
  if (body.length > MAX_NOTE_BYTES) return { ok: false, reason: `larger than ${MAX_NOTE_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const o = raw as Partial<Record<keyof EventNote, unknown>> | null;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return { ok: false, reason: 'not an object' };
  if (o.v !== 1) return { ok: false, reason: `unknown version ${JSON.stringify(o.v)}` };
  if (!Array.isArray(o.results) || !Array.isArray(o.completed)) return { ok: false, reason: 'lists missing' };
  if (o.results.length > MAX_NOTE_ENTRIES || o.completed.length > MAX_NOTE_ENTRIES)
    return { ok: false, reason: 'too many entries' };
  for (const r of o.results as Record<string, unknown>[])
    if (
      typeof r !== 'object' ||
      r === null ||
      !isId(r.taskId) ||
      !isId(r.invocationId) ||
      !INVOCATION_STATE_SET.has(String(r.state))
    )
      return { ok: false, reason: 'a result entry is malformed' };
  for (const c of o.completed as Record<string, unknown>[])
    if (
      typeof c !== 'object' ||
      c === null ||
      !isId(c.taskId) ||
      (c.invocations !== undefined && !(Number.isSafeInteger(c.invocations) && (c.invocations as number) >= 0))
    )
      return { ok: false, reason: 'a completed entry is malformed' };
  const note: EventNote = {
    v: 1,
    results: (o.results as EventNote['results']).map(({ taskId, invocationId, state }) => ({
      taskId,
      invocationId,
      state,
    })),
    completed: (o.completed as EventNote['completed']).map(({ taskId, invocations }) =>
      invocations === undefined ? { taskId } : { taskId, invocations },
    ),
  };
  if (o.repair === true) note.repair = true;
  return { ok: true, note };
}
