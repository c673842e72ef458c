import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { agentProgram } from './agent.program';
import { ConfigError, loadAgentConfig, parseLabels } from './agent.config';
import { parseDurationMs } from '@warren/api';

const keysDir = mkdtempSync(join(tmpdir(), 'warren-trust-'));
const trustKeys = [generateSigningKey(), generateSigningKey()];
const trustFiles = trustKeys.map((k, i) => {
  const f = join(keysDir, `controller${i}.pub`);
  writeFileSync(f, k.publicPem);
  return f;
});
/** Every load trusts one controller key unless the test says otherwise. */
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  loadAgentConfig(argv, { WARREN_TRUST: trustFiles[0], ...env });
const errorOf = (argv: string[], env: NodeJS.ProcessEnv = {}): string => {
  try {
    load(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadAgentConfig', () => {
  it('requires at least one trusted controller key, takes several for rotation, and names a bad file', () => {
    expect(errorOf(['--host', 'web1'], { WARREN_TRUST: '' })).toMatch(/^--trust \(WARREN_TRUST\) is required/);
    expect(
      load(['--host', 'web1', '--trust', trustFiles[0], '--trust', trustFiles[1]]).trustedKeys.map((k) => k.keyId),
    ).toEqual(trustKeys.map((k) => k.keyId));
    expect(load(['--host', 'web1'], { WARREN_TRUST: trustFiles.join(',') }).trustedKeys).toHaveLength(2);
    const notAKey = join(keysDir, 'nope.pub');
    writeFileSync(notAKey, 'hello');
    expect(errorOf(['--host', 'web1', '--trust', notAKey])).toMatch(
      /^--trust \(WARREN_TRUST\) .*nope\.pub: not a public key/,
    );
    expect(errorOf(['--host', 'web1', '--trust', join(keysDir, 'missing.pub')])).toMatch(/missing\.pub/);
    expect(load(['--host', 'web1']).clockSkewMs).toBe(30_000);
    expect(errorOf(['--host', 'web1', '--clock-skew', '10m'])).toMatch(/--clock-skew .*at most 5m/);
  });

  it('takes defaults when only the host is given', () => {
    expect(load(['--host', 'web1'])).toMatchObject({
      host: 'web1',
      brokerUrl: 'amqp://guest:guest@127.0.0.1:5672',
      labels: {},
      concurrency: 4,
      stateDir: join(homedir(), '.warren', 'agent-web1'),
      namespace: 'warren',
      queueType: 'classic',
      presenceIntervalMs: 5000,
      maxOutputBytes: 1_048_576,
      shutdownGraceMs: 10_000,
      amqpHeartbeatSec: 10,
      logLevel: 'info',
    });
  });

  it('reads every setting from the environment', () => {
    const cfg = load([], {
      WARREN_HOST_ID: 'db-2',
      WARREN_BROKER_URL: 'amqps://u:p@broker:5671/vh',
      WARREN_LABELS: 'role=db, zone=eu-1',
      WARREN_CONCURRENCY: '16',
      WARREN_STATE_DIR: '/var/lib/warren',
      WARREN_NAMESPACE: 'prod',
      WARREN_QUEUE_TYPE: 'quorum',
      WARREN_PRESENCE_INTERVAL: '500ms',
      WARREN_MAX_OUTPUT_BYTES: '2048',
      WARREN_SHUTDOWN_GRACE: '2m',
      WARREN_AMQP_HEARTBEAT: '30',
      WARREN_LOG_LEVEL: 'debug',
    });
    expect(cfg).toMatchObject({
      host: 'db-2',
      brokerUrl: 'amqps://u:p@broker:5671/vh',
      labels: { role: 'db', zone: 'eu-1' },
      concurrency: 16,
      stateDir: '/var/lib/warren',
      namespace: 'prod',
      queueType: 'quorum',
      presenceIntervalMs: 500,
      maxOutputBytes: 2048,
      shutdownGraceMs: 120_000,
      amqpHeartbeatSec: 30,
      logLevel: 'debug',
    });
  });

  it('lets a flag win over its environment variable', () => {
    const env = { WARREN_HOST_ID: 'from-env', WARREN_CONCURRENCY: '8', WARREN_PRESENCE_INTERVAL: '9s' };
    const cfg = load(['--host', 'from-flag', '--concurrency', '2'], env);
    expect(cfg).toMatchObject({ host: 'from-flag', concurrency: 2, presenceIntervalMs: 9000 });
    expect(load(['--presence-interval', '3'], env).presenceIntervalMs).toBe(3000); // bare number = seconds
  });

  it('refuses a missing or invalid host with one line naming the flag and the variable', () => {
    expect(errorOf([])).toBe('--host (WARREN_HOST_ID) is required');
    const bad = errorOf(['--host', '../etc']);
    expect(bad).toMatch(/^--host \(WARREN_HOST_ID\) must be a host id.*got "\.\.\/etc"$/);
    expect(bad).not.toContain('\n');
    expect(errorOf([], { WARREN_HOST_ID: 'has space' })).toMatch(/WARREN_HOST_ID/);
  });

  it('refuses out-of-range or malformed settings', () => {
    const h = ['--host', 'h'];
    expect(errorOf([...h, '--concurrency', '0'])).toMatch(
      /^--concurrency \(WARREN_CONCURRENCY\) must be an integer from 1 to 1024/,
    );
    expect(errorOf([...h], { WARREN_CONCURRENCY: '1025' })).toMatch(/--concurrency/);
    expect(errorOf([...h, '--concurrency', 'lots'])).toMatch(/--concurrency/);
    expect(errorOf([...h, '--namespace', 'a b'])).toMatch(/^--namespace/);
    expect(errorOf([...h, '--queue-type', 'mirrored'])).toBe(
      '--queue-type (WARREN_QUEUE_TYPE) must be one of classic, quorum, got "mirrored"',
    );
    expect(errorOf([...h, '--broker', 'http://x'])).toBe(
      '--broker (WARREN_BROKER_URL) must be an amqp:// or amqps:// URL',
    );
    expect(errorOf([...h, '--labels', 'role'])).toMatch(/^--labels \(WARREN_LABELS\) expects k=v pairs/);
    expect(errorOf([...h, '--presence-interval', 'soon'])).toMatch(
      /^--presence-interval \(WARREN_PRESENCE_INTERVAL\) must be a duration/,
    );
    expect(errorOf([...h, '--shutdown-grace', '-1s'])).toMatch(/^--shutdown-grace/);
    expect(errorOf([...h, '--log-level', 'loud'])).toMatch(/^--log-level/);
    expect(errorOf([...h, '--bogus'])).toMatch(/unknown option '--bogus'/);
  });

  it('never shows the broker password in an error', () => {
    expect(errorOf(['--host', 'h', '--broker', 'http://u:secret@x'])).not.toContain('secret');
  });

  it('gives commands the agent environment minus every WARREN_* variable', () => {
    const cfg = load(['--host', 'h'], {
      PATH: '/bin',
      HOME: '/root',
      WARREN_BROKER_URL: 'amqp://u:secret@b',
      WARREN_TOKEN: 't',
      ROLE: 'web',
    });
    expect(cfg.childEnv).toEqual({ PATH: '/bin', HOME: '/root', ROLE: 'web' });
  });

  it('documents every flag with its environment variable in --help', () => {
    const help = agentProgram().helpInformation().replace(/\s+/g, ' ');
    for (const [flag, env] of [
      ['--host', 'WARREN_HOST_ID'],
      ['--broker', 'WARREN_BROKER_URL'],
      ['--labels', 'WARREN_LABELS'],
      ['--concurrency', 'WARREN_CONCURRENCY'],
      ['--state-dir', 'WARREN_STATE_DIR'],
      ['--namespace', 'WARREN_NAMESPACE'],
      ['--queue-type', 'WARREN_QUEUE_TYPE'],
      ['--presence-interval', 'WARREN_PRESENCE_INTERVAL'],
      ['--max-output', 'WARREN_MAX_OUTPUT_BYTES'],
      ['--shutdown-grace', 'WARREN_SHUTDOWN_GRACE'],
      ['--amqp-heartbeat', 'WARREN_AMQP_HEARTBEAT'],
      ['--log-level', 'WARREN_LOG_LEVEL'],
    ]) {
      expect(help).toMatch(new RegExp(`${flag} <[^>]*> [^[]*\\[env ${env}\\]`));
    }
  });
});

describe('parseLabels', () => {
  it('parses k=v pairs, allowing = inside values and prefixed keys', () => {
    expect(parseLabels('')).toEqual({});
    expect(parseLabels('a=1,k8s.io/zone=x=y,empty=')).toEqual({ a: '1', 'k8s.io/zone': 'x=y', empty: '' });
    expect(() => parseLabels('a=1,a=2')).toThrow(/twice/);
    expect(() => parseLabels('=v')).toThrow(ConfigError);
  });
});

describe('parseDurationMs', () => {
  it('accepts ms, s, m, h and bare seconds', () => {
    expect([
      parseDurationMs('500ms'),
      parseDurationMs('5s'),
      parseDurationMs('2m'),
      parseDurationMs('1h'),
      parseDurationMs('1.5'),
    ]).toEqual([500, 5000, 120_000, 3_600_000, 1500]);
    expect(parseDurationMs('5 minutes')).toBeNull();
    expect(parseDurationMs('')).toBeNull();
  });
});
