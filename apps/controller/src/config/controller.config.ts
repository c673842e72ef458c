import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_NAMESPACE, NAMESPACE_PATTERN } from '@warren/protocol';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDurationMs } from './duration';

/** Everything the controller is configured with, validated at boot. The only reader of process.env. */
export class ControllerConfig {
  /** TCP port of the HTTP API */
  port: number;
  /** address the HTTP API listens on */
  bind: string;
  /** amqp:// or amqps:// URL of the broker */
  brokerUrl: string;
  /** path of the SQLite task store */
  dbPath: string;
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

const intIn = (flag: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag}: expected an integer ${min}–${max}`);
  return n;
};

/** The controller's command line; `--help` is generated from it. */
export function controllerProgram(): Command {
  const opt = (flags: string, desc: string, envVar: string, parse?: (v: string) => unknown, def?: unknown) => {
    // The environment is applied by loadControllerConfig (not commander's .env()), so tests can pass their own.
    const o = new Option(flags, `${desc} [env ${envVar}]`);
    ENV_OF.set(o.attributeName(), { envVar, parse });
    if (parse) o.argParser(parse);
    if (def !== undefined) o.default(def);
    return o;
  };
  return new Command('warren-controller')
    .description('Warren controller: HTTP API, command dispatcher and result store.')
    .addOption(opt('--port <port>', 'HTTP port', 'WARREN_PORT', intIn('--port', 0, 65535), 7070))
    .addOption(opt('--bind <addr>', 'HTTP listen address', 'WARREN_BIND', undefined, '127.0.0.1'))
    .addOption(opt('--broker <url>', 'broker URL', 'WARREN_BROKER_URL', undefined, 'amqp://guest:guest@127.0.0.1:5672'))
    .addOption(opt('--db <file>', 'SQLite task store', 'WARREN_DB', undefined, join(homedir(), '.warren', 'controller.db')))
    .addOption(opt('--namespace <name>', 'prefix of every exchange and queue', 'WARREN_NAMESPACE', undefined, DEFAULT_NAMESPACE))
    .addOption(opt('--log-level <level>', 'trace|debug|info|warn|error|silent', 'WARREN_LOG_LEVEL', undefined, 'info'))
    .addOption(opt('--amqp-heartbeat <sec>', 'AMQP heartbeat in seconds', 'WARREN_AMQP_HEARTBEAT', intIn('--amqp-heartbeat', 1, 600), 10))
    .addOption(opt('--delivery-grace <dur>', 'wait this long past a delivery timeout before marking undelivered', 'WARREN_DELIVERY_GRACE', duration('--delivery-grace'), 2000))
    .addOption(opt('--result-grace <dur>', 'wait this long past timeout + kill grace before marking lost', 'WARREN_RESULT_GRACE', duration('--result-grace'), 5000))
    .addOption(opt('--sweep-interval <dur>', 'how often deadlines are checked', 'WARREN_SWEEP_INTERVAL', duration('--sweep-interval'), 250).hideHelp())
    .showHelpAfterError()
    .allowExcessArguments(false);
}

/**
 * Reads flags and environment into a validated {@link ControllerConfig}. Flags win over the
 * environment. Throws {@link ConfigError} with one line naming the bad setting.
 */
export function loadControllerConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const program = controllerProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: () => undefined });
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
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') throw err;
    throw new ConfigError(e.message.replace(/^error: /, ''));
  }
  const o = program.opts();
  const cfg = Object.assign(new ControllerConfig(), {
    port: o.port,
    bind: o.bind,
    brokerUrl: o.broker,
    dbPath: o.db,
    namespace: o.namespace,
    logLevel: o.logLevel,
    amqpHeartbeatSec: o.amqpHeartbeat,
    deliveryGraceMs: o.deliveryGrace,
    resultGraceMs: o.resultGrace,
    sweepIntervalMs: o.sweepInterval,
  } satisfies ControllerConfig);
  if (!NAMESPACE_PATTERN.test(cfg.namespace)) throw new ConfigError(`--namespace: ${JSON.stringify(cfg.namespace)} is not a valid namespace (letters, digits, . _ -)`);
  if (!/^amqps?:\/\//.test(cfg.brokerUrl)) throw new ConfigError('--broker: expected an amqp:// or amqps:// URL');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(cfg.logLevel)) throw new ConfigError(`--log-level: unknown level ${cfg.logLevel}`);
  return cfg;
}
