import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  addConfigOptions,
  ConfigError,
  fileContents,
  flagSwitch,
  integer,
  type OptionTable,
  oneOf,
  parseCommandLine,
  readConfig,
  text,
} from './config';

const TABLE = {
  port: { flags: '--port <n>', env: 'T_PORT', description: 'port', default: '80', parse: integer(0, 65535) },
  name: { flags: '--name <s>', env: 'T_NAME', description: 'name', parse: text(true) },
  level: {
    flags: '--level <l>',
    env: 'T_LEVEL',
    description: 'level',
    default: 'info',
    parse: oneOf(['info', 'debug']),
  },
  verbose: { flags: '--verbose', env: 'T_VERBOSE', description: 'talk', parse: flagSwitch },
  key: { flags: '--key <file>', env: 'T_KEY', description: 'key', parse: fileContents, repeatable: false },
  tag: { flags: '--tag <t>', env: 'T_TAG', description: 'tags', parse: text(), repeatable: true },
} satisfies OptionTable;

function load(argv: string[], env: Record<string, string> = {}) {
  const program = addConfigOptions(new Command('t'), TABLE);
  parseCommandLine(program, argv);
  return readConfig(program, TABLE, env);
}

const errorOf = (argv: string[], env: Record<string, string> = {}) => {
  try {
    load(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('readConfig', () => {
  it('takes the flag over the variable over the default, and an empty variable as unset', () => {
    expect(load(['--name', 'a'])).toMatchObject({ port: 80, name: 'a', level: 'info', verbose: false });
    expect(load(['--name', 'a'], { T_PORT: '81', T_VERBOSE: '1' })).toMatchObject({ port: 81, verbose: true });
    expect(load(['--name', 'a', '--port', '82'], { T_PORT: '81' }).port).toBe(82);
    expect(load([], { T_NAME: 'b', T_PORT: '' }).port).toBe(80);
    expect(load(['--verbose'], { T_NAME: 'b', T_VERBOSE: 'false' }).verbose).toBe(true);
  });

  it('joins a repeated flag with commas, the form of its variable', () => {
    expect(load(['--name', 'a', '--tag', 'x', '--tag', 'y']).tag).toBe('x,y');
    expect(load(['--name', 'a'], { T_TAG: 'x,y' }).tag).toBe('x,y');
  });

  it('names the flag and the variable of the first bad setting, in one line', () => {
    expect(errorOf([])).toBe('--name (T_NAME) is required');
    expect(errorOf(['--name', 'a', '--port', 'x'])).toBe('--port (T_PORT) must be an integer from 0 to 65535, got "x"');
    expect(errorOf(['--port', '-1'], { T_LEVEL: 'loud' })).toMatch(/^--port \(T_PORT\)/);
    expect(errorOf(['--name', 'a'], { T_LEVEL: 'loud' })).toBe(
      '--level (T_LEVEL) must be one of info, debug, got "loud"',
    );
    expect(errorOf(['--name', 'a', '--key', '/nonexistent/k.pem'])).toMatch(
      /^--key \(T_KEY\) cannot read "\/nonexistent\/k\.pem": ENOENT$/,
    );
    expect(errorOf(['--bogus'])).toMatch(/^unknown option '--bogus'/);
  });

  it('documents each flag with its variable and default in --help', () => {
    const help = addConfigOptions(new Command('t'), TABLE).helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('--port <n> port [env T_PORT] (default: 80)');
    expect(help).toContain('--name <s> name [env T_NAME]');
  });

  it('refuses a table whose key is not the attribute name of its flag', () => {
    expect(() => addConfigOptions(new Command('t'), { port: { ...TABLE.port, flags: '--max-port <n>' } })).toThrow(
      /must be keyed maxPort/,
    );
  });
});
