import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';

/** The environment a daemon's settings are read from: `process.env`, or a test's own. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/**
 * A configuration problem, reported as one line before a daemon exits with status 2. A parser
 * throws it with the problem alone (`must be an integer from 1 to 1024, got "0"`); the loader
 * names the setting both ways in front: `--concurrency (WARREN_CONCURRENCY) must be …`.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** One setting of a daemon: its flag, its environment variable, its default and how its text becomes a value. */
export interface ConfigOption<T = unknown> {
  /** commander flags, `--port <port>`; without `<…>` a switch, whose text is `true` when given */
  flags: string;
  /** environment variable read when the flag is not given; empty counts as unset */
  env: string;
  /** `--help` text; `[env VAR]` and the default are appended */
  description: string;
  /** text used when neither the flag nor the variable is set, parsed like a flag */
  default?: string;
  /**
   * Turns the text (undefined: not set, no default) into the value. Throws {@link ConfigError}
   * with the problem; the loader adds the flag and variable names.
   */
  parse: (text: string | undefined) => T;
  /** the flag may be repeated; its values are joined with commas, the variable's form */
  repeatable?: boolean;
  /** left out of `--help` (tuning knobs for tests) */
  hidden?: boolean;
}

/** A daemon's settings, keyed by commander attribute name (`maxOutput` for `--max-output`). */
export type OptionTable = Record<string, ConfigOption>;

/** What {@link readConfig} returns: each key's parsed value. */
export type ConfigValues<T extends OptionTable> = { [K in keyof T]: ReturnType<T[K]['parse']> };

/** The process environment; the one place a daemon reads `process.env`. */
export function processEnv(): ConfigEnv {
  return process.env;
}

/** `--flag (ENV_VAR)`, the name of a setting in every message. */
export function settingName(o: Pick<ConfigOption, 'flags' | 'env'>): string {
  return `${new Option(o.flags).long} (${o.env})`;
}

/**
 * Adds every option of `table` to `program` for parsing and `--help`. Options carry no parsers
 * or defaults in commander: values stay text, so that a flag, its variable and its default go
 * through the same parse. Throws if a key is not its flag's attribute name (a bug in the table).
 */
export function addConfigOptions(program: Command, table: OptionTable): Command {
  for (const [key, spec] of Object.entries(table)) {
    const shownDefault = spec.default === undefined || spec.default === '' ? '' : ` (default: ${spec.default})`;
    const o = new Option(spec.flags, `${spec.description} [env ${spec.env}]${shownDefault}`);
    if (o.attributeName() !== key) throw new Error(`config table: ${spec.flags} must be keyed ${o.attributeName()}`);
    if (spec.repeatable) o.argParser((v: string, prev?: string) => (prev ? `${prev},${v}` : v));
    if (spec.hidden) o.hideHelp();
    program.addOption(o);
  }
  return program;
}

/**
 * Parses `argv` with `program` (built with {@link addConfigOptions}), turning commander's
 * complaints into {@link ConfigError}. Rethrows commander's `--help`/`--version` exits (their
 * `exitCode` is 0), which have printed already.
 */
export function parseCommandLine(program: Command, argv: string[]): void {
  program.exitOverride().configureOutput({ writeErr: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
      throw err;
    throw new ConfigError(e.message.replace(/^error: /, ''));
  }
}

/**
 * Each setting of `table` after {@link parseCommandLine}: the flag wins over its environment
 * variable, which wins over the default; then its `parse`. Settings are parsed in table order, so
 * the first bad one is reported. Throws {@link ConfigError} naming the flag and the variable.
 */
export function readConfig<T extends OptionTable>(program: Command, table: T, env: ConfigEnv): ConfigValues<T> {
  const flags = program.opts<Record<string, unknown>>();
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const fromFlag = program.getOptionValueSource(key) === 'cli' ? String(flags[key]) : undefined;
    const fromEnv = env[spec.env] === '' ? undefined : env[spec.env];
    try {
      out[key] = spec.parse(fromFlag ?? fromEnv ?? spec.default);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${settingName(spec)} ${err.message}`);
      throw err;
    }
  }
  return out as ConfigValues<T>;
}

/** `, got "<text>"` (at most 80 characters) for a message about a bad value. */
export function got(text: string): string {
  return `, got ${JSON.stringify(text).slice(0, 80)}`;
}

/** Text as it is; `required` makes unset a {@link ConfigError}. */
export function text(required = false): (t: string | undefined) => string | undefined {
  return (t) => {
    if (t === undefined && required) throw new ConfigError('is required');
    return t;
  };
}

/** A whole number from `min` to `max`; `problem` says so (the default: `must be an integer from min to max`). */
export function integer(min: number, max: number, problem = `must be an integer from ${min} to ${max}`) {
  return (t: string | undefined): number => {
    const n = t !== undefined && /^\s*-?\d+\s*$/.test(t) ? Number(t) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${problem}${got(t ?? '')}`);
    return n;
  };
}

/** One of `values`. */
export function oneOf(values: readonly string[]) {
  return (t: string | undefined): string => {
    if (t === undefined || !values.includes(t))
      throw new ConfigError(`must be one of ${values.join(', ')}${got(t ?? '')}`);
    return t;
  };
}

/** Text matching `pattern`; `problem` says what it must be. */
export function matching(pattern: RegExp, problem: string) {
  return (t: string | undefined): string => {
    if (t === undefined || !pattern.test(t)) throw new ConfigError(`${problem}${got(t ?? '')}`);
    return t;
  };
}

/** A switch: given (or any value but `false` and `0`) is true, unset is false. */
export function flagSwitch(t: string | undefined): boolean {
  return t !== undefined && t !== 'false' && t !== '0';
}

/** The bytes of the file at path `t`, read now so that a bad path stops the daemon at boot; unset is undefined. */
export function fileContents(t: string | undefined): Buffer | undefined {
  if (t === undefined) return undefined;
  try {
    return readFileSync(resolve(t));
  } catch (err) {
    throw new ConfigError(
      `cannot read ${JSON.stringify(t)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** pino's levels, for `--log-level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** `--log-level`: the pino level of a daemon's JSON log lines. */
export const LOG_LEVEL_OPTION = {
  flags: '--log-level <level>',
  env: 'WARREN_LOG_LEVEL',
  description: LOG_LEVELS.join('|'),
  default: 'info',
  parse: oneOf(LOG_LEVELS),
} satisfies ConfigOption;

/**
 * Runs a daemon's config loader at boot. A {@link ConfigError} is printed as one line
 * (`<app>: invalid configuration: <message>`) and the process exits 2; commander's own exits
 * (`--help`, `--version`, an unknown flag: already printed) exit with commander's code.
 */
export function loadConfigOrExit<T>(app: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${app}: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    process.exit((err as { exitCode?: number }).exitCode ?? 2);
  }
}
