import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HOST_ID_PATTERN, NAMESPACE_PATTERN, readPublicKeyFile, type TrustedKey } from '@warren/protocol';
import { IsDefined, IsIn, IsInt, Matches, Max, Min, validateSync, type ValidationArguments } from 'class-validator';
import { AGENT_SETTINGS, agentProgram, type AgentSetting } from './agent.program';
import { buildBaseEnv } from './base-env.builder';
import { LabelError, parseDurationMs, parseLabelList } from '@warren/api';
import { loadAgentPolicy } from '../policy/policy.loader';
import { PolicyError } from '../policy/policy.error';
import type { AgentPolicy } from '../policy/policy.types';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** bytes; the most output per stream an agent may keep. Two captures, JSON-escaped, must fit a reply. */
export const MAX_OUTPUT_CAP = 4 * 1024 * 1024;

const setting = (attr: string): AgentSetting => AGENT_SETTINGS.find((s) => s.attr === attr)!;

/** `--flag (ENV_VAR) <problem>, got "<value>"`: names the setting both ways, whichever the user set. */
const msg = (attr: string, problem: string) => (a: ValidationArguments) => {
  const s = setting(attr);
  const got =
    a.value === undefined || Number.isNaN(a.value) ? '' : `, got ${JSON.stringify(String(a.value)).slice(0, 80)}`;
  return `${s.flag} (${s.envVar}) ${problem}${got}`;
};

/** Everything the agent is configured with, validated at boot. Only this module reads `process.env`. */
export class AgentConfig {
  /** this host's id; the routing key of its inbox */
  @IsDefined({ message: '--host is required (or WARREN_HOST_ID)' })
  @Matches(HOST_ID_PATTERN, {
    message: msg('host', 'must be a host id: letters, digits, . _ -, at most 63 characters'),
  })
  host: string;

  /** amqp:// or amqps:// URL; holds a password, so it is never logged unredacted */
  @Matches(/^amqps?:\/\/[^\s]+$/, { message: '--broker (WARREN_BROKER_URL) must be an amqp:// or amqps:// URL' })
  brokerUrl: string;

  /** PEM material for amqps:// (`--broker-ca`, `--broker-cert`, `--broker-key`), read at boot; empty for the system CAs */
  brokerTls: BrokerTls;

  /** reported in heartbeats, for targeting by label */
  labels: Record<string, string>;

  /** most commands run at once; also the inbox prefetch */
  @IsInt({ message: msg('concurrency', 'must be an integer from 1 to 1024') })
  @Min(1, { message: msg('concurrency', 'must be an integer from 1 to 1024') })
  @Max(1024, { message: msg('concurrency', 'must be an integer from 1 to 1024') })
  concurrency: number;

  /** absolute path of the directory holding the invocation journal and the agent's key */
  stateDir: string;

  /** controller public keys whose signatures this agent obeys (at least one) */
  trustedKeys: TrustedKey[];

  /** ms of clock difference tolerated when checking a command's issue and expiry times */
  @IsInt({ message: msg('clockSkew', 'must be a duration like 500ms, 5s or 2m') })
  @Min(0, { message: msg('clockSkew', 'must not be negative') })
  @Max(300_000, { message: msg('clockSkew', 'must be at most 5m') })
  clockSkewMs: number;

  /** prefix of every exchange and queue name */
  @Matches(NAMESPACE_PATTERN, { message: msg('namespace', 'must be letters, digits, . _ -, at most 63 characters') })
  namespace: string;

  /** ms between presence heartbeats */
  @IsInt({ message: msg('presenceInterval', 'must be a duration like 500ms, 5s or 2m') })
  @Min(100, { message: msg('presenceInterval', 'must be at least 100ms') })
  @Max(3_600_000, { message: msg('presenceInterval', 'must be at most 1h') })
  presenceIntervalMs: number;

  /** bytes of stdout, and separately of stderr, kept per command */
  @IsInt({ message: msg('maxOutput', 'must be a number of bytes') })
  @Min(0, { message: msg('maxOutput', 'must not be negative') })
  @Max(MAX_OUTPUT_CAP, { message: msg('maxOutput', `must be at most ${MAX_OUTPUT_CAP} bytes`) })
  maxOutputBytes: number;

  /** ms; on shutdown, how long running commands may finish before their process groups are killed */
  @IsInt({ message: msg('shutdownGrace', 'must be a duration like 500ms, 5s or 2m') })
  @Min(0, { message: msg('shutdownGrace', 'must not be negative') })
  shutdownGraceMs: number;

  /** s; AMQP heartbeat, so a dead broker connection is noticed within about twice this */
  @IsInt({ message: msg('amqpHeartbeat', 'must be an integer number of seconds from 0 to 600') })
  @Min(0, { message: msg('amqpHeartbeat', 'must be an integer number of seconds from 0 to 600') })
  @Max(600, { message: msg('amqpHeartbeat', 'must be an integer number of seconds from 0 to 600') })
  amqpHeartbeatSec: number;

  @IsIn(LOG_LEVELS, { message: msg('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`) })
  logLevel: string;

  /** the environment commands start from: the agent's own minus every WARREN_* variable */
  childEnv: Readonly<Record<string, string>>;

  /** the local policy (`--policy`, or the default one), users resolved; it wins over every envelope */
  policy: AgentPolicy;
}

/** A configuration problem, reported as one line before the agent exits with status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `k=v,k2=v2` (empty = none) by the one label rule. Throws {@link ConfigError} naming the bad pair. */
export function parseLabels(text: string): Record<string, string> {
  try {
    return parseLabelList(text);
  } catch (err) {
    if (!(err instanceof LabelError)) throw err;
    const s = setting('labels');
    throw new ConfigError(`${s.flag} (${s.envVar}) expects k=v pairs separated by commas: ${err.message}`);
  }
}

/** Reads every `--trust` file (comma-separated); at least one is required. */
function loadTrustedKeys(text: string | undefined): TrustedKey[] {
  const s = setting('trust');
  const paths = (text ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (paths.length === 0) {
    throw new ConfigError(
      `${s.flag} (${s.envVar}) is required: the controller's public key (the controller writes it to <state-dir>/controller.pub); the agent runs only commands signed by a trusted key`,
    );
  }
  return paths.map((p) => {
    try {
      return readPublicKeyFile(resolve(p));
    } catch (err) {
      throw new ConfigError(`${s.flag} (${s.envVar}) ${(err as Error).message}`);
    }
  });
}

/** TLS files for the broker connection, read at boot so that a bad path stops the agent at once. */
export interface BrokerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function loadBrokerTls(raw: Record<string, string | undefined>): BrokerTls {
  const read = (attr: string): Buffer | undefined => {
    const path = raw[attr];
    if (path === undefined || path === '') return undefined;
    const s = setting(attr);
    try {
      return readFileSync(resolve(path));
    } catch (err) {
      throw new ConfigError(
        `${s.flag} (${s.envVar}) cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  const tls: BrokerTls = { ca: read('brokerCa'), cert: read('brokerCert'), key: read('brokerKey') };
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new ConfigError(
      '--broker-cert and --broker-key (WARREN_BROKER_CERT, WARREN_BROKER_KEY) go together: give both or neither',
    );
  return tls;
}

/** Reads `--policy` (none = the default policy). `agentMaxOutputBytes` is the ceiling its cap may lower. */
function loadPolicy(path: string | undefined, agentMaxOutputBytes: number): AgentPolicy {
  const s = setting('policy');
  try {
    return loadAgentPolicy(path === undefined || path === '' ? null : resolve(path), { agentMaxOutputBytes });
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError(`${s.flag} (${s.envVar}) ${err.message}`);
    throw err;
  }
}

/** Integer text to number; NaN (reported by validation) for anything else. */
const toInt = (text: string | undefined) => (text !== undefined && /^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN);
const toMs = (text: string | undefined) => (text === undefined ? NaN : (parseDurationMs(text) ?? NaN));

/**
 * Reads flags and environment into a validated {@link AgentConfig}; a flag wins over its
 * environment variable, which wins over the default. Throws {@link ConfigError} with one line naming
 * the bad setting; rethrows commander's `--help`/`--version` exits (their `exitCode` is 0).
 */
export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const program = agentProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') throw err;
    throw new ConfigError(e.message.replace(/^error: /, ''));
  }
  const opts = program.opts<Record<string, string | undefined>>();
  const raw: Record<string, string | undefined> = {};
  for (const s of AGENT_SETTINGS) {
    const fromEnv = env[s.envVar];
    const useEnv = program.getOptionValueSource(s.attr) !== 'cli' && fromEnv !== undefined && fromEnv !== '';
    raw[s.attr] = useEnv ? fromEnv : opts[s.attr];
  }
  const host = raw.host;
  const cfg = Object.assign(new AgentConfig(), {
    host: host as string,
    brokerUrl: raw.broker ?? '',
    brokerTls: loadBrokerTls(raw),
    labels: parseLabels(raw.labels ?? ''),
    concurrency: toInt(raw.concurrency),
    stateDir: resolve(raw.stateDir ?? join(homedir(), '.warren', `agent-${host}`)),
    trustedKeys: loadTrustedKeys(raw.trust),
    clockSkewMs: toMs(raw.clockSkew),
    namespace: raw.namespace ?? '',
    presenceIntervalMs: toMs(raw.presenceInterval),
    maxOutputBytes: toInt(raw.maxOutput),
    shutdownGraceMs: toMs(raw.shutdownGrace),
    amqpHeartbeatSec: toInt(raw.amqpHeartbeat),
    logLevel: raw.logLevel ?? '',
    childEnv: buildBaseEnv(env),
    policy: loadPolicy(raw.policy, toInt(raw.maxOutput)),
  } satisfies AgentConfig);
  const errors = validateSync(cfg);
  if (errors.length > 0) {
    // The most basic complaint first: "missing" before "not a number" before "out of range".
    const c = errors[0].constraints ?? {};
    throw new ConfigError(c.isDefined ?? c.isInt ?? Object.values(c)[0] ?? `invalid ${errors[0].property}`);
  }
  return cfg;
}
