import { isValidHostId } from '@warren/protocol';

/**
 * What a controller announces to the others on the changes fanout after its commits (JSON, one
 * per tick): the tasks whose stored invocations changed, those that completed, and the hosts whose
 * keys changed. It carries ids only: a receiver reads the rest from the shared database.
 */
export interface ChangesMessage {
  /** format version, 1 */
  v: 1;
  /** the sending controller's instance id (hex), so that it ignores its own messages */
  from: string;
  /** ids of tasks whose invocations changed (started, result, verdict, cancel) */
  changed: string[];
  /** ids of tasks that completed */
  completed: string[];
  /** hosts whose key records changed (accepted, rejected, pre-accepted, labels accepted) */
  hostKeys?: string[];
}

/** Most ids in one list of a message; a sender splits a larger batch over several messages. */
export const MAX_IDS_PER_LIST = 1_000;
/** bytes; a larger body is dropped unread */
export const MAX_CHANGES_BYTES = 256 * 1024;

const INSTANCE_ID = /^[0-9a-f]{8,32}$/;
/** Task ids as the launcher makes them (`t_` and 12 characters), with room for other forms. */
const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The body of `m`. */
export function encodeChanges(m: ChangesMessage): Buffer {
  return Buffer.from(JSON.stringify(m));
}

/** A message read from the broker, or why it was dropped (it comes from anyone who may publish there). */
export type DecodedChanges = { ok: true; message: ChangesMessage } | { ok: false; reason: string };

function idList(value: unknown, field: string, valid: (s: string) => boolean): string[] | string {
  if (!Array.isArray(value)) return `${field} is not a list`;
  if (value.length > MAX_IDS_PER_LIST) return `${field} has more than ${MAX_IDS_PER_LIST} entries`;
  for (const v of value) if (typeof v !== 'string' || !valid(v)) return `${field} holds an invalid id`;
  return value as string[];
}

/** Reads and checks a changes message; never throws. */
export function decodeChanges(body: Buffer): DecodedChanges {
  if (body.length > MAX_CHANGES_BYTES) return { ok: false, reason: `body larger than ${MAX_CHANGES_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not an object' };
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) return { ok: false, reason: `unknown version ${JSON.stringify(o.v)}` };
  if (typeof o.from !== 'string' || !INSTANCE_ID.test(o.from))
    return { ok: false, reason: 'from is not an instance id' };
  const taskId = (s: string) => TASK_ID.test(s);
  const changed = idList(o.changed, 'changed', taskId);
  if (typeof changed === 'string') return { ok: false, reason: changed };
  const completed = idList(o.completed, 'completed', taskId);
  if (typeof completed === 'string') return { ok: false, reason: completed };
  const message: ChangesMessage = { v: 1, from: o.from, changed, completed };
  if (o.hostKeys !== undefined) {
    const hostKeys = idList(o.hostKeys, 'hostKeys', isValidHostId);
    if (typeof hostKeys === 'string') return { ok: false, reason: hostKeys };
    message.hostKeys = hostKeys;
  }
  return { ok: true, message };
}
