/**
 * Event ids of `GET /v1/tasks/:id/events`: `<offset>-<k>`, the offset of the message of the events
 * stream (`<ns>.events`) that gave the event, and the index of the event among those that message
 * gave (an agent's `started` or `output` reply gives one, k = 0; a controller's note gives a
 * `result` per invocation it names, maybe each after a `started`, then `completed`). Offsets are
 * the broker's, so an id means the same on every controller. docs/streaming.md.
 */
export interface EventPosition {
  /** offset of the stream message */
  offset: number;
  /** index of the event among those of that message, from 0 */
  k: number;
}

/** What a `Last-Event-ID` header says. */
export type LastEventId =
  /** absent or blank: start from the task's beginning */
  | { kind: 'none' }
  /** an id this API sent: resume after it */
  | { kind: 'position'; at: EventPosition }
  /** an id of the per-controller in-memory logs before the events stream (`<8 hex>.<seq>`): start from the beginning */
  | { kind: 'legacy' }
  /** anything else: refused with 400 */
  | { kind: 'invalid' };

/** An id as sent. */
export function renderEventId(p: EventPosition): string {
  return `${p.offset}-${p.k}`;
}

const POSITION = /^(\d{1,15})-(\d{1,6})$/;
const LEGACY = /^[0-9a-f]{8}\.\d{1,15}$/;

/** Reads a `Last-Event-ID` header (blanks around it ignored). */
export function parseLastEventId(header: string | undefined): LastEventId {
  const text = header?.trim() ?? '';
  if (text === '') return { kind: 'none' };
  const m = POSITION.exec(text);
  if (m) return { kind: 'position', at: { offset: Number(m[1]), k: Number(m[2]) } };
  return LEGACY.test(text) ? { kind: 'legacy' } : { kind: 'invalid' };
}

/** True when `a` comes after `b` in the stream. */
export function isAfter(a: EventPosition, b: EventPosition): boolean {
  return a.offset > b.offset || (a.offset === b.offset && a.k > b.k);
}
