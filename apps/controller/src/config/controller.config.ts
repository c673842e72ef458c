import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_NAMESPACE, NAMESPACE_PATTERN } from '@warren/protocol';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ControllerAction, addControllerSubcommands, eachCommand } from './controller.subcommands';
import { parseDurationMs } from '@warren/api';

/** Everything the controller is configured with, validated at boot. The only reader of process.env. */
export class ControllerConfig {
  /** TCP port of the HTTP API */
  port: number;
  /** address the HTTP API listens on */
  bind: string;
  /** amqp:// or amqps:// URL of the broker */
  brokerUrl: string;
  /** PEM material for amqps:// (`--broker-ca`, `--broker-cert`, `--broker-key`), read at boot; empty for the system CAs */
  brokerTls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** directory of the controller's state: database, signing key (mode 0700) */
  stateDir: string;
  /** path of the SQLite task store */
  dbPath: string;
  /** Ed25519 private key that signs every command (PKCS#8 PEM); generated on first start if missing */
  keyPath: string;
  /** trust an agent's key the first time it is seen, without `warren hosts accept` (labs only) */
  autoAccept: boolean;
  /** prefix of every exchange and queue name */
  namespace: string;
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
}

/** A configuration problem, reported as one line before the controller exits with status 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** option attribute → its environment variable and parser */
const ENV_OF = new Map<string, { envVar: string; parse?: (v: string) => unknown }>();

const duration = (flag: string) => (v: string) => {
  const ms = parseDurationMs(v);
  if (ms === null) throw new InvalidArgumentError(`${flag}: expected a duration like 500ms, 5s, 2m`);
  return ms;
};

/** Reads a PEM file at parse time, so that a bad path stops the controller at once. */
const pemFile = (flag: string) => (v: string) => {
  try {
    return readFileSync(resolve(v));
  } catch (err) {
    throw new InvalidArgumentError(
      `${flag}: cannot read ${JSON.stringify(v)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
};

const intIn = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${flag}: expected an integer ${min}–${max}`);
  return n;
};

/** The controller's command line, with its subcommands; `--help` is generated from it. */
export function controllerProgram(onAction: (a: ControllerAction) => void = () => undefined): Command {
  const opt = (flags: string, desc: string, envVar: string, parse?: (v: string) => unknown, def?: unknown) => {
    // The environment is applied by loadControllerConfig (not commander's .env()), so tests can pass their own.
    const o = new Option(flags, `${desc} [env ${envVar}]`);
    ENV_OF.set(o.attributeName(), { envVar, parse });
    if (parse) o.argParser(parse);
    if (def !== undefined) o.default(def);
    return o;
  };
  const program = new Command('warren-controller')
    .description('Warren controller: HTTP API, command dispatcher and result store.')
    .addOption(opt('--port <port>', 'HTTP port', 'WARREN_PORT', intIn('--port', 0, 65535), 7070))
    .addOption(opt('--bind <addr>', 'HTTP listen address', 'WARREN_BIND', undefined, '127.0.0.1'))
    .addOption(opt('--broker <url>', 'broker URL', 'WARREN_BROKER_URL', undefined, 'amqp://guest:guest@127.0.0.1:5672'))
    .addOption(
      opt(
        '--broker-ca <file>',
        "PEM CA certificate the broker's TLS certificate must chain to (amqps://; default: the system CAs)",
        'WARREN_BROKER_CA',
        pemFile('--broker-ca'),
      ),
    )
    .addOption(
      opt(
        '--broker-cert <file>',
        'PEM client certificate, for a broker that verifies peers (with --broker-key)',
        'WARREN_BROKER_CERT',
        pemFile('--broker-cert'),
      ),
    )
    .addOption(
      opt('--broker-key <file>', 'PEM private key of --broker-cert', 'WARREN_BROKER_KEY', pemFile('--broker-key')),
    )
    .addOption(
      opt(
        '--state-dir <dir>',
        'state directory: database and signing key',
        'WARREN_STATE_DIR',
        undefined,
        join(homedir(), '.warren'),
      ),
    )
    .addOption(opt('--db <file>', 'SQLite task store (default: <state-dir>/controller.db)', 'WARREN_DB'))
    .addOption(
      opt(
        '--key <file>',
        'Ed25519 signing key, generated on first start (default: <state-dir>/controller.key)',
        'WARREN_KEY',
      ),
    )
    .addOption(
      opt(
        '--auto-accept',
        "trust each agent's key on first sight, without `warren hosts accept` (labs only)",
        'WARREN_AUTO_ACCEPT',
        (v: string) => v !== 'false' && v !== '0',
      ),
    )
    .addOption(
      opt('--namespace <name>', 'prefix of every exchange and queue', 'WARREN_NAMESPACE', undefined, DEFAULT_NAMESPACE),
    )
    .addOption(opt('--log-level <level>', 'trace|debug|info|warn|error|silent', 'WARREN_LOG_LEVEL', undefined, 'info'))
    .addOption(
      opt(
        '--amqp-heartbeat <sec>',
        'AMQP heartbeat in seconds',
        'WARREN_AMQP_HEARTBEAT',
        intIn('--amqp-heartbeat', 1, 600),
        10,
      ),
    )
    .addOption(
      opt(
        '--delivery-grace <dur>',
        'wait this long past a delivery timeout before marking undelivered',
        'WARREN_DELIVERY_GRACE',
        duration('--delivery-grace'),
        2000,
      ),
    )
    .addOption(
      opt(
        '--result-grace <dur>',
        'wait this long past timeout + kill grace before marking lost',
        'WARREN_RESULT_GRACE',
        duration('--result-grace'),
        5000,
      ),
    )
    .addOption(
      opt(
        '--metrics-public',
        'serve GET /metrics without a token (firewall it instead); default: needs a viewer token',
        'WARREN_METRICS_PUBLIC',
        (v: string) => v !== 'false' && v !== '0',
      ),
    )
    .addOption(
      opt(
        '--sweep-interval <dur>',
        'how often deadlines are checked',
        'WARREN_SWEEP_INTERVAL',
        duration('--sweep-interval'),
        250,
      ).hideHelp(),
    )
    .showHelpAfterError()
    .allowExcessArguments(false);
  return addControllerSubcommands(program, onAction);
}

/**
 * Reads flags and environment into a validated {@link ControllerConfig}. Flags win over the
 * environment. Throws {@link ConfigError} with one line naming the bad setting.
 */
export function loadControllerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  return parseControllerArgs(argv, env).config;
}

/** Like {@link loadControllerConfig}, and also says which command was asked for (`serve` by default). */
export function parseControllerArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { action: ControllerAction; config: ControllerConfig } {
  let action: ControllerAction = { command: 'serve' };
  const program = controllerProgram((a) => (action = a));
  eachCommand(program, (c) => c.exitOverride().configureOutput({ writeErr: () => undefined }));
  try {
    program.parse(argv, { from: 'user' });
    for (const [name, { envVar, parse }] of ENV_OF) {
      const raw = env[envVar];
      if (raw === undefined || raw === '' || program.getOptionValueSource(name) === 'cli') continue;
      try {
        program.setOptionValueWithSource(name, parse ? parse(raw) : raw, 'env');
      } catch (e) {
        throw new ConfigError(`${envVar}: ${(e as Error).message}`);
      }
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as { code?: string; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
      throw err;
    throw new ConfigError(e.message.replace(/^error: /, ''));
  }
  const o = program.opts();
  const cfg = Object.assign(new ControllerConfig(), {
    port: o.port,
    bind: o.bind,
    brokerUrl: o.broker,
    brokerTls: { ca: o.brokerCa, cert: o.brokerCert, key: o.brokerKey },
    stateDir: o.stateDir,
    dbPath: o.db ?? join(o.stateDir, 'controller.db'),
    keyPath: o.key ?? join(o.stateDir, 'controller.key'),
    autoAccept: o.autoAccept === true,
    namespace: o.namespace,
    logLevel: o.logLevel,
    amqpHeartbeatSec: o.amqpHeartbeat,
    deliveryGraceMs: o.deliveryGrace,
    resultGraceMs: o.resultGrace,
    sweepIntervalMs: o.sweepInterval,
    metricsPublic: o.metricsPublic === true,
  } satisfies ControllerConfig);
  if (!NAMESPACE_PATTERN.test(cfg.namespace))
    throw new ConfigError(
      `--namespace: ${JSON.stringify(cfg.namespace)} is not a valid namespace (letters, digits, . _ -)`,
    );
  if (!/^amqps?:\/\//.test(cfg.brokerUrl)) throw new ConfigError('--broker: expected an amqp:// or amqps:// URL');
  if ((o.brokerCert === undefined) !== (o.brokerKey === undefined))
    throw new ConfigError('--broker-cert and --broker-key go together: give both or neither');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(cfg.logLevel))
    throw new ConfigError(`--log-level: unknown level ${cfg.logLevel}`);
  return { action, config: cfg };
}
