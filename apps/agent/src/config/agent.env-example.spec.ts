import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateSigningKey } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { AGENT_OPTIONS } from './agent.program';
import { loadAgentConfig } from './agent.config';

/** docs/examples/agent.env, the file docs/install-agent.md installs as /etc/warren/agent.env */
const ENV_EXAMPLE = resolve(__dirname, '../../../../docs/examples/agent.env');

/** A variable line of an EnvironmentFile: set (`X=v`) or shown with its default (`#X=v`). */
interface EnvLine {
  name: string;
  value: string;
  set: boolean;
}

/** The `WARREN_*` lines of an env example, set or commented out. */
function parseEnvExample(text: string): EnvLine[] {
  return text
    .split('\n')
    .map((l) => /^(#?)(WARREN_[A-Z0-9_]+)=(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ set: m[1] === '', name: m[2], value: m[3] }));
}

const lines = parseEnvExample(readFileSync(ENV_EXAMPLE, 'utf8'));
const options = Object.values(AGENT_OPTIONS);

describe('docs/examples/agent.env', () => {
  it('names every variable the agent reads, each once, and no other', () => {
    const names = lines.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(options.map((o) => o.env).sort());
  });

  it("shows each commented-out setting with the agent's actual default", () => {
    for (const line of lines.filter((l) => !l.set)) {
      const option = options.find((o) => o.env === line.name)!;
      if ('default' in option) expect({ [line.name]: line.value }).toEqual({ [line.name]: option.default });
    }
  });

  it('keeps the broker password out of the URL: it comes from WARREN_BROKER_PASSWORD_FILE', () => {
    const url = lines.find((l) => l.name === 'WARREN_BROKER_URL')!;
    expect(url.set).toBe(true);
    expect(new URL(url.value).password).toBe('');
    expect(new URL(url.value).username).not.toBe('');
    expect(lines.find((l) => l.name === 'WARREN_BROKER_PASSWORD_FILE')?.set).toBe(true);
  });

  it('boots the agent config as written, with its files in place, the password read from the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-env-example-'));
    const key = generateSigningKey();
    // The example's absolute paths, moved under a temporary directory with the same base names.
    const files: Record<string, string> = {
      WARREN_TRUST: key.publicPem,
      WARREN_BROKER_PASSWORD_FILE: 'pa$$ word\n',
      WARREN_POLICY: 'allowRoot: true\n',
    };
    const env: Record<string, string> = {};
    for (const { name, value } of lines.filter((l) => l.set)) {
      const moved = name in files || name === 'WARREN_STATE_DIR';
      env[name] = moved ? join(dir, value.replaceAll('/', '_')) : value;
      if (name in files) writeFileSync(env[name], files[name], { mode: 0o600 });
    }
    expect(Object.keys(files).every((n) => n in env)).toBe(true);

    const config = loadAgentConfig([], env);
    expect(config.host).toBe(env.WARREN_HOST_ID);
    expect(config.trustedKeys.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(decodeURIComponent(new URL(config.brokerUrl).password)).toBe('pa$$ word');
    expect(config.stateDir).toBe(env.WARREN_STATE_DIR);
    expect(config.policy.allowRoot).toBe(true);
    expect(config.processTracking).toBe('auto');
  });
});
