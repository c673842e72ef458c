import { captureProblems } from './capture';
import { chunkCount, FILE_CHUNK_BYTES, MAX_FILE_BYTES, SHA256_HEX_PATTERN } from './files';
import { ENV_NAME_PATTERN, LIMITS } from './limits';
import type {
  CancelMessage,
  CommandMessage,
  FileChunkMessage,
  MessageKind,
  PresenceMessage,
  ReplyMessage,
  WarrenMessage,
} from './messages';
import { REJECT_CODES } from './messages';
import { AGENT_RESULT_STATES } from './states';
import { isPrintable, LABEL_KEY_PATTERN, LABEL_LIMITS, VERSION_PATTERN } from './text.rule';
import { isValidHostId, NAMESPACE_PATTERN } from './topology';
import { isAcceptedProtocol, protocolProblem } from './version';

/** Outcome of decoding bytes from the wire: the message, or why it is not one. */
export type Decoded<T> =
  | { ok: true; message: T }
  | {
      ok: false;
      /** one line saying what is wrong, for logs and `rejected` replies */
      reason: string;
      /** ids recovered from a bad message, so the sender can still be answered; `host` (a claim, for logs) only with `wrongVersion` */
      partial: { invocationId?: string; taskId?: string; host?: string };
      /**
       * set when the message is of a protocol version outside the accepted range (an integer `v`
       * outside `MIN_PROTOCOL_VERSION`..`PROTOCOL_VERSION`): the version it speaks. Its sender is
       * older or newer than this receiver, not broken; `reason` names both versions.
       */
      wrongVersion?: number;
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

/** Problems with a file manifest (`files.ts`): hashes, size, and one chunk hash per chunk. */
function manifestProblems(field: string, m: unknown): string[] {
  if (!isObj(m)) return [`${field} must be an object`];
  const errors: string[] = [];
  if (typeof m.sha256 !== 'string' || !SHA256_HEX_PATTERN.test(m.sha256))
    errors.push(`${field}.sha256 must be a lowercase hex SHA-256`);
  int('size', { min: 0, max: MAX_FILE_BYTES })(m, errors);
  if (m.chunkSize !== FILE_CHUNK_BYTES) errors.push(`${field}.chunkSize must be ${FILE_CHUNK_BYTES}`);
  const n = typeof m.size === 'number' ? chunkCount(m.size) : -1;
  if (!Array.isArray(m.chunks) || m.chunks.length !== n) errors.push(`${field}.chunks must hold ${n} chunk hashes`);
  else if (m.chunks.some((c) => typeof c !== 'string' || !SHA256_HEX_PATTERN.test(c)))
    errors.push(`${field}.chunks must be lowercase hex SHA-256 hashes`);
  return errors.map((e) => (e.startsWith(field) ? e : `${field}.${e}`));
}

/** An absolute path of at most `LIMITS.cwdBytes` characters, printable, no `..` or NUL. */
function absolutePath(o: Obj, field: string, errors: string[], prefix: string): void {
  const v = o[field];
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > LIMITS.cwdBytes || !isPrintable(v))
    return void errors.push(`${prefix}.${field} must be an absolute path`);
  if (v.split('/').includes('..')) errors.push(`${prefix}.${field} must not hold ..`);
}

/** `transfer` of a protocol-2 command: a put or a get (`files.ts`). */
const transfer: Check = (o, errors) => {
  const t = o.transfer;
  if (t === undefined) return;
  if (!isObj(t)) return void errors.push('transfer must be an object');
  if (t.op === 'put') {
    errors.push(...manifestProblems('transfer.file', t.file));
    absolutePath(t, 'dest', errors, 'transfer');
    if (typeof t.dest === 'string' && t.dest.endsWith('/')) errors.push('transfer.dest must name a file');
    int('mode', { min: 0, max: 0o7777, nullable: true })(t, errors);
    str('owner', { max: 64, nullable: true, printable: true })(t, errors);
    str('group', { max: 64, nullable: true, printable: true })(t, errors);
    if (typeof t.mkdir !== 'boolean') errors.push('transfer.mkdir must be a boolean');
  } else if (t.op === 'get') {
    absolutePath(t, 'path', errors, 'transfer');
    int('maxBytes', { min: 0, max: MAX_FILE_BYTES })(t, errors);
    id('chunkReplyTo', 255)(t, errors);
  } else errors.push('transfer.op must be one of put, get');
  if (t.op === 'put' || t.op === 'get') if (o.stdin !== undefined) errors.push('a transfer takes no stdin');
};

/** Fields of protocol 2 that a message of version 1 must not carry. */
const V2_COMMAND_FIELDS = ['transfer', 'stdin'] as const;
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
    transfer,
    (o, errors) => {
      if (o.stdin !== undefined) errors.push(...manifestProblems('stdin', o.stdin));
      for (const f of V2_COMMAND_FIELDS)
        if (o[f] !== undefined && o.v === 1) errors.push(`${f} needs protocol 2, the message says 1`);
    },
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
    (o, errors) => {
      const f = o.file;
      if (f === undefined) return;
      if (!isObj(f)) return void errors.push('file must be an object');
      if (typeof f.sha256 !== 'string' || !SHA256_HEX_PATTERN.test(f.sha256))
        errors.push('file.sha256 must be a lowercase hex SHA-256');
      int('size', { min: 0, max: MAX_FILE_BYTES })(f, errors);
      if (typeof f.changed !== 'boolean') errors.push('file.changed must be a boolean');
    },
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
  ready: [...ids, matches('sha256', SHA256_HEX_PATTERN, 'a lowercase hex SHA-256')],
  fileChunk: [
    ...ids,
    int('index', { min: 0, max: chunkCount(MAX_FILE_BYTES) - 1 }),
    (o, errors) => {
      if (typeof o.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.data)) errors.push('data must be base64');
      else if (o.data.length > Math.ceil(FILE_CHUNK_BYTES / 3) * 4) errors.push('data is longer than one chunk');
    },
  ],
};

const MAX_BYTES: Record<MessageKind, number> = {
  command: LIMITS.maxCommandMessageBytes,
  started: 64 * 1024,
  result: LIMITS.maxReplyMessageBytes,
  presence: 64 * 1024,
  output: 6 * LIMITS.maxOutputChunkChars + 4096,
  cancel: LIMITS.maxCommandMessageBytes,
  interrupted: 64 * 1024,
  ready: 64 * 1024,
  fileChunk: Math.ceil(FILE_CHUNK_BYTES / 3) * 4 + 4096,
};

function fail<T>(reason: string, o?: Obj, wrongVersion?: number): Decoded<T> {
  const partial: { invocationId?: string; taskId?: string; host?: string } = {};
  const usable = (v: unknown): v is string => typeof v === 'string' && v.length <= 128 && isPrintable(v);
  if (o && usable(o.invocationId)) partial.invocationId = o.invocationId;
  if (o && usable(o.taskId)) partial.taskId = o.taskId;
  if (wrongVersion === undefined) return { ok: false, reason, partial };
  // Whom an unsupported version's message claims to come from: its fields are not read, but a log names the host.
  if (o && typeof o.host === 'string' && isValidHostId(o.host)) partial.host = o.host;
  return { ok: false, reason, partial, wrongVersion };
}

/** Kinds only a controller sends; the rest come from agents. */
const FROM_CONTROLLER: readonly MessageKind[] = ['command', 'cancel'];

/**
 * Decodes and validates bytes from the wire as one of `kinds`. Never throws: anything that is not a
 * well-formed message of an accepted kind comes back as `{ ok: false, reason }`. The size is checked
 * before parsing, so a huge body costs nothing. The protocol version is checked before the kind and
 * fields (a newer protocol may have other ones): an integer `v` outside the accepted range
 * (`isAcceptedProtocol`: N and N−1) comes back with `wrongVersion` and a reason naming both
 * versions (`controller speaks protocol 2; this agent accepts 1 to 1`); a `v` that is no integer
 * is malformed.
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
  if (typeof parsed.v !== 'number' || !Number.isSafeInteger(parsed.v))
    return fail('v must be an integer protocol version', parsed);
  if (!isAcceptedProtocol(parsed.v)) {
    const [sender, receiver] = kinds.every((k) => FROM_CONTROLLER.includes(k))
      ? (['controller', 'agent'] as const)
      : (['agent', 'controller'] as const);
    return fail(protocolProblem(parsed.v, sender, receiver), parsed, parsed.v);
  }
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

/** Decodes a `started`, `output`, `result`, `interrupted` or `ready` reply (controller side). */
export function decodeReply(body: Buffer): Decoded<ReplyMessage> {
  return decode<ReplyMessage>(body, ['started', 'result', 'output', 'interrupted', 'ready']);
}

/** Decodes a chunk of a fetched file (controller side, from the files-in queue). */
export function decodeFileChunk(body: Buffer): Decoded<FileChunkMessage> {
  return decode<FileChunkMessage>(body, ['fileChunk']);
}

/**
 * The protocol version to send a command as: 1 unless it carries a field of protocol 2
 * (`transfer`, `stdin`), so that agents still at 1 keep running plain commands (see `Base.v`).
 */
export function commandVersion(c: Pick<CommandMessage, 'transfer' | 'stdin'>): 1 | 2 {
  return c.transfer !== undefined || c.stdin !== undefined ? 2 : 1;
}

/** Decodes a cancel (agent side, after its signature was verified). */
export function decodeCancel(body: Buffer): Decoded<CancelMessage> {
  return decode<CancelMessage>(body, ['cancel']);
}

/** Decodes a presence heartbeat or goodbye. */
export function decodePresence(body: Buffer): Decoded<PresenceMessage> {
  return decode<PresenceMessage>(body, ['presence']);
}
