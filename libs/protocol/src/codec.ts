import { captureProblems } from './capture';
import { ENV_NAME_PATTERN, LIMITS } from './limits';
import type {
  CancelMessage,
  CommandMessage,
  MessageKind,
  PresenceMessage,
  ReplyMessage,
  WarrenMessage,
} from './messages';
import { REJECT_CODES } from './messages';
import { AGENT_RESULT_STATES } from './states';
import { isPrintable, LABEL_KEY_PATTERN, LABEL_LIMITS, VERSION_PATTERN } from './text.rule';
import { isValidHostId, NAMESPACE_PATTERN } from './topology';
import { PROTOCOL_VERSION } from './version';

/** Outcome of decoding bytes from the wire: the message, or why it is not one. */
export type Decoded<T> =
  | { ok: true; message: T }
  | {
      ok: false;
      /** one line saying what is wrong, for logs and `rejected` replies */
      reason: string;
      /** ids recovered from a bad message, so the sender can still be answered */
      partial: { invocationId?: string; taskId?: string };
    };

/** Serialises a message for publishing. */
export function encode(message: WarrenMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

type Obj = Record<string, unknown>;
type Check = (o: Obj, errors: string[]) => void;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * A string of `min` (default 1) to `max` characters. `printable`: none of the characters
 * {@link isPrintable} refuses, for ids and names a store keys on or a person reads (a NUL in one
 * cannot even be stored: PostgreSQL text refuses U+0000, and the whole batch of replies would fail).
 */
function str(field: string, opts: { max?: number; min?: number; nullable?: boolean; printable?: boolean } = {}): Check {
  return (o, errors) => {
    const v = o[field];
    if (v === null && opts.nullable) return;
    if (typeof v !== 'string') return void errors.push(`${field} must be a string`);
    if (v.length < (opts.min ?? 1)) errors.push(`${field} must not be empty`);
    if (opts.max !== undefined && v.length > opts.max) errors.push(`${field} is longer than ${opts.max}`);
    else if (opts.printable && !isPrintable(v)) errors.push(`${field} holds control characters`);
  };
}

/** An id from the wire (invocation, task, agent key, reply queue): 1 to `max` printable characters. */
const id = (field: string, max = 128): Check => str(field, { max, printable: true });

function int(field: string, opts: { min?: number; max?: number; nullable?: boolean } = {}): Check {
  return (o, errors) => {
    const v = o[field];
    if (v === null && opts.nullable) return;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return void errors.push(`${field} must be an integer`);
    if (opts.min !== undefined && v < opts.min) errors.push(`${field} must be ≥ ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) errors.push(`${field} must be ≤ ${opts.max}`);
  };
}

/** A string matching `pattern`; the error says what it should look like, never echoes the value. */
function matches(field: string, pattern: RegExp, what: string): Check {
  return (o, errors) => {
    if (typeof o[field] !== 'string' || !pattern.test(o[field] as string)) errors.push(`${field} must be ${what}`);
  };
}

function oneOf(field: string, values: readonly string[]): Check {
  return (o, errors) => {
    if (!values.includes(o[field] as string)) errors.push(`${field} must be one of ${values.join(', ')}`);
  };
}

function stringList(field: string, opts: { max: number; maxItem: number }): Check {
  return (o, errors) => {
    const v = o[field];
    if (!Array.isArray(v)) return void errors.push(`${field} must be an array of strings`);
    if (v.length > opts.max) errors.push(`${field} has more than ${opts.max} entries`);
    if (v.some((x) => typeof x !== 'string' || x.length === 0 || x.length > opts.maxItem || !isPrintable(x)))
      errors.push(`${field} must hold non-empty printable strings of at most ${opts.maxItem} characters`);
  };
}

function optionalOneOf(field: string, values: readonly string[]): Check {
  return (o, errors) => {
    if (o[field] !== undefined && !values.includes(o[field] as string))
      errors.push(`${field} must be one of ${values.join(', ')}`);
  };
}

function optionalBool(field: string): Check {
  return (o, errors) => {
    if (o[field] !== undefined && typeof o[field] !== 'boolean') errors.push(`${field} must be a boolean`);
  };
}

function host(field = 'host'): Check {
  return (o, errors) => {
    if (typeof o[field] !== 'string' || !isValidHostId(o[field] as string))
      errors.push(`${field} is not a valid host id`);
  };
}

function stringMap(
  field: string,
  opts: { names?: RegExp; maxEntries: number; maxValue: number; printable?: boolean },
): Check {
  return (o, errors) => {
    const v = o[field];
    if (!isObj(v)) return void errors.push(`${field} must be an object of strings`);
    const entries = Object.entries(v);
    if (entries.length > opts.maxEntries) errors.push(`${field} has more than ${opts.maxEntries} entries`);
    for (const [k, val] of entries) {
      if (opts.names && !opts.names.test(k))
        errors.push(`${field} has an invalid name ${JSON.stringify(k.slice(0, 64))}`);
      if (typeof val !== 'string') errors.push(`${field}.${k} must be a string`);
      else if (val.length > opts.maxValue) errors.push(`${field}.${k} is longer than ${opts.maxValue}`);
      else if (opts.printable && !isPrintable(val)) errors.push(`${field}.${k} holds control characters`);
    }
  };
}

function capture(field: string): Check {
  return (o, errors) => {
    const v = o[field];
    if (!isObj(v)) return void errors.push(`${field} must be an object`);
    errors.push(...captureProblems(field, v));
  };
}

const ids: Check[] = [id('invocationId'), id('taskId'), host()];
/** Whom a command or cancel is addressed to besides its host: the namespace and the host's accepted agent key. */
const addressee: Check[] = [
  (o, errors) => {
    if (typeof o.namespace !== 'string') errors.push('namespace must be a string');
    else if (!NAMESPACE_PATTERN.test(o.namespace)) errors.push('namespace is not a valid namespace');
  },
  id('agentKeyId'),
];
const epochMs = (field: string, nullable = false) => int(field, { min: 0, nullable });

const SCHEMAS: Record<MessageKind, Check[]> = {
  command: [
    ...ids,
    ...addressee,
    str('command', { max: LIMITS.commandBytes }),
    str('cwd', { max: LIMITS.cwdBytes, nullable: true }),
    stringMap('env', { names: ENV_NAME_PATTERN, maxEntries: LIMITS.envCount, maxValue: LIMITS.envEntryBytes }),
    int('timeoutMs', { min: 1, max: LIMITS.maxTimeoutMs }),
    int('killGraceMs', { min: 0, max: LIMITS.maxKillGraceMs }),
    str('runAs', { max: 64, nullable: true, printable: true }),
    epochMs('issuedAt'),
    epochMs('expiresAt'),
    id('replyTo', 255),
    optionalBool('live'),
  ],
  started: [...ids, epochMs('startedAt'), int('pid', { min: 0, nullable: true })],
  result: [
    ...ids,
    oneOf('state', AGENT_RESULT_STATES),
    int('exitCode', { nullable: true }),
    str('signal', { max: 32, nullable: true, printable: true }),
    capture('stdout'),
    capture('stderr'),
    epochMs('startedAt', true),
    epochMs('finishedAt'),
    int('durationMs', { min: 0, nullable: true }),
    str('reason', { max: 4096, nullable: true }),
    optionalOneOf('code', REJECT_CODES),
  ],
  presence: [
    host(),
    oneOf('status', ['online', 'goodbye']),
    stringMap('labels', {
      names: LABEL_KEY_PATTERN,
      maxEntries: LABEL_LIMITS.pairs,
      maxValue: LABEL_LIMITS.valueLength,
      printable: true,
    }),
    matches('version', VERSION_PATTERN, 'a version like 0.1.0'),
    int('running', { min: 0 }),
    int('concurrency', { min: 1 }),
    int('intervalMs', { min: 1 }),
    epochMs('sentAt'),
    str('publicKey', { max: 256, printable: true }),
  ],
  output: [
    ...ids,
    oneOf('stream', ['stdout', 'stderr']),
    int('seq', { min: 0 }),
    int('offset', { min: 0 }),
    str('data', { min: 0, max: LIMITS.maxOutputChunkChars }),
  ],
  cancel: [
    id('taskId'),
    host(),
    ...addressee,
    stringList('invocationIds', { max: LIMITS.hostsPerTask, maxItem: 128 }),
    str('requestedBy', { max: 256, printable: true }),
    epochMs('issuedAt'),
    epochMs('expiresAt'),
    id('replyTo', 255),
  ],
  interrupted: [...ids, epochMs('reportedAt'), str('reason', { max: 4096 })],
};

const MAX_BYTES: Record<MessageKind, number> = {
  command: LIMITS.maxCommandMessageBytes,
  started: 64 * 1024,
  result: LIMITS.maxReplyMessageBytes,
  presence: 64 * 1024,
  output: 6 * LIMITS.maxOutputChunkChars + 4096,
  cancel: LIMITS.maxCommandMessageBytes,
  interrupted: 64 * 1024,
};

function fail<T>(reason: string, o?: Obj): Decoded<T> {
  const partial: { invocationId?: string; taskId?: string } = {};
  const usable = (v: unknown): v is string => typeof v === 'string' && v.length <= 128 && isPrintable(v);
  if (o && usable(o.invocationId)) partial.invocationId = o.invocationId;
  if (o && usable(o.taskId)) partial.taskId = o.taskId;
  return { ok: false, reason, partial };
}

/**
 * Decodes and validates bytes from the wire as one of `kinds`. Never throws: anything that is not a
 * well-formed message of an accepted kind and the current protocol version comes back as
 * `{ ok: false, reason }`. The size is checked before parsing, so a huge body costs nothing.
 */
export function decode<T extends WarrenMessage>(body: Buffer, kinds: readonly T['kind'][]): Decoded<T> {
  const limit = Math.max(...kinds.map((k) => MAX_BYTES[k]));
  if (body.length > limit) return fail(`message of ${body.length} bytes exceeds the ${limit}-byte limit`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('body is not valid JSON');
  }
  if (!isObj(parsed)) return fail('body is not a JSON object');
  if (parsed.v !== PROTOCOL_VERSION) return fail(`unsupported protocol version ${JSON.stringify(parsed.v)}`, parsed);
  const kind = parsed.kind as MessageKind;
  if (!kinds.includes(kind)) return fail(`unexpected message kind ${JSON.stringify(parsed.kind)}`, parsed);
  if (body.length > MAX_BYTES[kind])
    return fail(`${kind} message of ${body.length} bytes exceeds the ${MAX_BYTES[kind]}-byte limit`, parsed);
  const errors: string[] = [];
  for (const check of SCHEMAS[kind]) check(parsed, errors);
  if (kind === 'command' && errors.length === 0 && (parsed.expiresAt as number) < (parsed.issuedAt as number)) {
    errors.push('expiresAt is before issuedAt');
  }
  if (errors.length > 0) return fail(`invalid ${kind}: ${errors.slice(0, 5).join('; ')}`, parsed);
  return { ok: true, message: parsed as unknown as T };
}

/** Decodes a command (agent side). */
export function decodeCommand(body: Buffer): Decoded<CommandMessage> {
  return decode<CommandMessage>(body, ['command']);
}

/** Decodes a `started`, `output`, `result` or `interrupted` reply (controller side). */
export function decodeReply(body: Buffer): Decoded<ReplyMessage> {
  return decode<ReplyMessage>(body, ['started', 'result', 'output', 'interrupted']);
}

/** Decodes a cancel (agent side, after its signature was verified). */
export function decodeCancel(body: Buffer): Decoded<CancelMessage> {
  return decode<CancelMessage>(body, ['cancel']);
}

/** Decodes a presence heartbeat or goodbye. */
export function decodePresence(body: Buffer): Decoded<PresenceMessage> {
  return decode<PresenceMessage>(body, ['presence']);
}
