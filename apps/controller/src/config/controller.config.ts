import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  AMQP_HEARTBEAT_OPTION,
  BROKER_OPTIONS,
  NAMESPACE_OPTION,
  QUEUE_TYPE_OPTION,
  withBrokerPassword,
} from '@warren/amqp';
import {
  addConfigOptions,
  type ConfigEnv,
  ConfigError,
  fileContents,
  flagSwitch,
  got,
  integer,
  LOG_LEVEL_OPTION,
  type OptionTable,
  parseCommandLine,
  processEnv,
  readConfig,
  text,
} from '@warren/runtime';
import { Command } from 'commander';
import { MAX_FILE_BYTES, type QueueType } from '@warren/protocol';
import { type ControllerAction, addControllerSubcommands, eachCommand } from './controller.subcommands';
import { BYTE_SIZE_FORMAT, parseByteSize, parseDurationMs } from '@warren/api';

export { ConfigError } from '@warren/runtime';

/** Everything the controller is configured with, validated at boot by {@link parseControllerArgs}. */
export class ControllerConfig {
  /** TCP port of the HTTP API */
  port: number;
  /** address the HTTP API listens on */
  bind: string;
  /** amqp:// or amqps:// URL of the broker, or several separated by commas (tried in turn) */
  brokerUrl: string;
  /** PEM material for amqps:// (`--broker-ca`, `--broker-cert`, `--broker-key`), read at boot; empty for the system CAs */
  brokerTls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** directory of the controller's state: database, signing key (mode 0700) */
  stateDir: string;
  /**
   * the database of every store: a `postgres://` or `postgresql://` URL (libpq form, it may hold a
   * password: never log it as is: `printableDb`), or else the path of the SQLite file
   */
  dbPath: string;
  /** Ed25519 private key that signs every command (PKCS#8 PEM); generated on first start if missing */
  keyPath: string;
  /** trust an agent's key the first time it is seen, without `warren hosts accept` (labs only) */
  autoAccept: boolean;
  /** ms; a pending host key not heard from within this is forgotten */
  pendingKeyTtlMs: number;
  /** prefix of every exchange and queue name */
  namespace: string;
  /** type of the durable queues (results, undelivered, inboxes, control queues); see `QUEUE_TYPE_OPTION` */
  queueType: QueueType;
  logLevel: string;
  /** s; AMQP heartbeat */
  amqpHeartbeatSec: number;
  /** ms; after a command's delivery timeout, how long to wait for `started` before calling it undelivered */
  deliveryGraceMs: number;
  /** ms; after execution timeout + kill grace, how long to wait for a result before calling it lost */
  resultGraceMs: number;
  /** ms; how often deadlines are checked */
  sweepIntervalMs: number;
  /** serve `GET /metrics` without a token (for a firewalled port); by default it needs a `viewer` token */
  metricsPublic: boolean;
  /** PEM certificate (chain) and private key the API is served with over HTTPS, read at boot; null: plain HTTP */
  tls: { cert: Buffer; key: Buffer } | null;
  /** ms; a client must have sent a request's headers within this (slowloris), else 408 and closed */
  httpHeadersTimeoutMs: number;
  /** ms; a client must have sent a whole request (headers and body) within this, else 408 and closed */
  httpRequestTimeoutMs: number;
  /**
   * retention of the events stream (`<ns>.events`, docs/streaming.md): bytes it may hold, and s
   * after which its messages go; fixed when the stream is first declared
   */
  eventsRetention: { maxBytes: number; maxAgeSec: number };
  /**
   * event streams (`GET /v1/tasks/:id/events`) this controller serves at once; one more is answered
   * 503 with `Retry-After` (`EventStreamSlots`). Each holds a channel of the events connection,
   * whose `channel_max` is 2,047 by default
   */
  maxEventStreams: number;
  /** bytes; the largest file `POST /v1/files` stores (413 past it), and the default and most of a get's `maxBytes` */
  maxFileBytes: number;
}

function byteSize(t: string | undefined): number {
  const bytes = t === undefined ? null : parseByteSize(t);
  if (bytes === null || bytes < 1024 * 1024)
    throw new ConfigError(`must be a size of at least 1MiB, like ${BYTE_SIZE_FORMAT}${got(t ?? '')}`);
  return bytes;
}

/** A file size limit: at least 1 byte, at most what the protocol carries (`MAX_FILE_BYTES`, 1 GiB). */
function fileSize(t: string | undefined): number {
  const bytes = t === undefined ? null : parseByteSize(t);
  if (bytes === null || bytes < 1 || bytes > MAX_FILE_BYTES)
    throw new ConfigError(`must be a size from 1 byte to 1GiB, like ${BYTE_SIZE_FORMAT}${got(t ?? '')}`);
  return bytes;
}

function duration(t: string | undefined): number {
  const ms = t === undefined ? null : parseDurationMs(t);
  if (ms === null) throw new ConfigError(`must be a duration like 500ms, 5s or 2m${got(t ?? '')}`);
  return ms;
}

/** Every setting of the controller, in `--help` order. */
const CONTROLLER_OPTIONS = {
  port: {
    flags: '--port <port>',
    env: 'WARREN_PORT',
    description: 'HTTP port',
    default: '7070',
    parse: integer(0, 65535),
  },
  bind: {
    flags: '--bind <addr>',
    env: 'WARREN_BIND',
    description: 'HTTP listen address',
    default: '127.0.0.1',
    parse: text(),
  },
  tlsCert: {
    flags: '--tls-cert <file>',
    env: 'WARREN_TLS_CERT',
    description: 'PEM certificate (with its chain): serve the API over HTTPS (with --tls-key)',
    parse: fileContents,
  },
  tlsKey: {
    flags: '--tls-key <file>',
    env: 'WARREN_TLS_KEY',
    description: 'PEM private key of --tls-cert',
    parse: fileContents,
  },
  ...BROKER_OPTIONS,
  stateDir: {
    flags: '--state-dir <dir>',
    env: 'WARREN_STATE_DIR',
    description: 'state directory: database and signing key',
    default: join(homedir(), '.warren'),
    parse: text(),
  },
  db: {
    flags: '--db <file|url>',
    env: 'WARREN_DB',
    description:
      'database: a SQLite file (default: <state-dir>/controller.db), or postgres://user@host/db for PostgreSQL, shared by several controllers (a password in it is never logged or shown; prefer ~/.pgpass or PGPASSWORD)',
    parse: text(),
  },
  key: {
    flags: '--key <file>',
    env: 'WARREN_KEY',
    description: 'Ed25519 signing key, generated on first start (default: <state-dir>/controller.key)',
    parse: text(),
  },
  autoAccept: {
    flags: '--auto-accept',
    env: 'WARREN_AUTO_ACCEPT',
    description:
      "trust each agent's key on first sight, without `warren hosts accept` (labs only; stops at 10,000 accepted hosts)",
    parse: flagSwitch,
  },
  pendingKeyTtl: {
    flags: '--pending-key-ttl <dur>',
    env: 'WARREN_PENDING_KEY_TTL',
    description: 'forget a pending host key not heard from within this',
    default: '24h',
    parse: duration,
  },
  namespace: NAMESPACE_OPTION,
  queueType: QUEUE_TYPE_OPTION,
  logLevel: LOG_LEVEL_OPTION,
  amqpHeartbeat: AMQP_HEARTBEAT_OPTION,
  deliveryGrace: {
    flags: '--delivery-grace <dur>',
    env: 'WARREN_DELIVERY_GRACE',
    description: 'wait this long past a delivery timeout before marking undelivered',
    default: '2s',
    parse: duration,
  },
  resultGrace: {
    flags: '--result-grace <dur>',
    env: 'WARREN_RESULT_GRACE',
    description: 'wait this long past timeout + kill grace before marking lost',
    default: '5s',
    parse: duration,
  },
  eventsMaxBytes: {
    flags: '--events-max-bytes <size>',
    env: 'WARREN_EVENTS_MAX_BYTES',
    description:
      'live output kept for resuming on any controller (the events stream): at most this many bytes on the broker',
    default: '256MiB',
    parse: byteSize,
  },
  eventsMaxAge: {
    flags: '--events-max-age <dur>',
    env: 'WARREN_EVENTS_MAX_AGE',
    description: 'and for at most this long',
    default: '1h',
    parse: duration,
  },
  maxEventStreams: {
    flags: '--max-event-streams <n>',
    env: 'WARREN_MAX_EVENT_STREAMS',
    description:
      'live event streams (GET /v1/tasks/:id/events) served at once; past it 503 with Retry-After (each holds a broker channel: at most 2,000)',
    default: '1000',
    parse: integer(1, 2_000),
  },
  maxFileSize: {
    flags: '--max-file-size <size>',
    env: 'WARREN_MAX_FILE_SIZE',
    description:
      'largest file uploaded with POST /v1/files (warren cp, run --stdin; 413 past it) and fetched (warren fetch); at most 1GiB',
    default: '100MiB',
    parse: fileSize,
  },
  metricsPublic: {
    flags: '--metrics-public',
    env: 'WARREN_METRICS_PUBLIC',
    description: 'serve GET /metrics without a token (firewall it instead); default: needs a viewer token',
    parse: flagSwitch,
  },
  sweepInterval: {
    flags: '--sweep-interval <dur>',
    env: 'WARREN_SWEEP_INTERVAL',
    description: 'how often deadlines are checked',
    default: '250ms',
    parse: duration,
    hidden: true,
  },
  httpHeadersTimeout: {
    flags: '--http-headers-timeout <dur>',
    env: 'WARREN_HTTP_HEADERS_TIMEOUT',
    description: "a client's request headers must arrive within this",
    default: '10s',
    parse: duration,
    hidden: true,
  },
  httpRequestTimeout: {
    flags: '--http-request-timeout <dur>',
    env: 'WARREN_HTTP_REQUEST_TIMEOUT',
    description: "a client's whole request (headers and body) must arrive within this",
    default: '60s',
    parse: duration,
    hidden: true,
  },
} satisfies OptionTable;

/** The controller's command line, with its subcommands; `--help` is generated from it. */
export function controllerProgram(onAction: (a: ControllerAction) => void = () => undefined): Command {
  const program = new Command('warren-controller').description(
    'Warren controller: HTTP API, command dispatcher and result store.',
  );
  addConfigOptions(program, CONTROLLER_OPTIONS).showHelpAfterError().allowExcessArguments(false);
  return addControllerSubcommands(program, onAction);
}

/**
 * Reads flags and environment into a validated {@link ControllerConfig}. Flags win over the
 * environment. Throws {@link ConfigError} with one line naming the bad setting.
 */
export function loadControllerConfig(argv: string[], env: ConfigEnv = processEnv()): ControllerConfig {
  return parseControllerArgs(argv, env).config;
}

/** Like {@link loadControllerConfig}, and also says which command was asked for (`serve` by default). */
export function parseControllerArgs(
  argv: string[],
  env: ConfigEnv = processEnv(),
): { action: ControllerAction; config: ControllerConfig } {
  let action: ControllerAction = { command: 'serve' };
  const program = controllerProgram((a) => (action = a));
  eachCommand(program, (c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
  parseCommandLine(program, argv);
  const o = readConfig(program, CONTROLLER_OPTIONS, env);
  if ((o.brokerCert === undefined) !== (o.brokerKey === undefined))
    throw new ConfigError('--broker-cert and --broker-key go together: give both or neither');
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
    throw new ConfigError('--tls-cert and --tls-key go together: give both or neither');
  if (o.httpHeadersTimeout > o.httpRequestTimeout)
    throw new ConfigError('--http-headers-timeout must not be longer than --http-request-timeout');
  const stateDir = o.stateDir!;
  const config = Object.assign(new ControllerConfig(), {
    port: o.port,
    bind: o.bind!,
    brokerUrl: withBrokerPassword(o.broker, o.brokerPasswordFile),
    brokerTls: { ca: o.brokerCa, cert: o.brokerCert, key: o.brokerKey },
    stateDir,
    dbPath: o.db ?? join(stateDir, 'controller.db'),
    keyPath: o.key ?? join(stateDir, 'controller.key'),
    autoAccept: o.autoAccept,
    pendingKeyTtlMs: o.pendingKeyTtl,
    namespace: o.namespace,
    queueType: o.queueType,
    logLevel: o.logLevel,
    amqpHeartbeatSec: o.amqpHeartbeat,
    deliveryGraceMs: o.deliveryGrace,
    resultGraceMs: o.resultGrace,
    sweepIntervalMs: o.sweepInterval,
    metricsPublic: o.metricsPublic,
    tls: o.tlsCert && o.tlsKey ? { cert: o.tlsCert, key: o.tlsKey } : null,
    httpHeadersTimeoutMs: o.httpHeadersTimeout,
    httpRequestTimeoutMs: o.httpRequestTimeout,
    eventsRetention: { maxBytes: o.eventsMaxBytes, maxAgeSec: Math.max(1, Math.round(o.eventsMaxAge / 1000)) },
    maxEventStreams: o.maxEventStreams,
    maxFileBytes: o.maxFileSize,
  } satisfies ControllerConfig);
  return { action, config };
}
