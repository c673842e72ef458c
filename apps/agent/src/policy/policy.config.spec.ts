import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningKey } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadAgentConfig } from '../config/agent.config';

const dir = mkdtempSync(join(tmpdir(), 'warren-policy-config-'));
const trust = join(dir, 'controller.pub');
writeFileSync(trust, generateSigningKey().publicPem);
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  loadAgentConfig(['--host', 'web1', ...argv], { WARREN_TRUST: trust, ...env });

describe('--policy (WARREN_POLICY)', () => {
  it('loads the policy file named by the flag or the environment, capping output at --max-output', () => {
    const lab = file('lab.yaml', 'allowRoot: true\nmaxOutputBytes: 4MiB\nmaxTimeout: 5m\n');
    expect(load(['--policy', lab]).policy).toMatchObject({
      file: lab,
      allowRoot: true,
      maxTimeoutMs: 300_000,
      maxOutputBytes: 1_048_576,
    });
    expect(load(['--max-output', '1000'], { WARREN_POLICY: lab }).policy).toMatchObject({
      file: lab,
      maxOutputBytes: 1000,
    });
  });

  it("uses the default policy without one: the agent's own user, root refused", () => {
    expect(load([]).policy).toMatchObject({
      file: null,
      allow: [],
      deny: [],
      allowRoot: false,
      maxTimeoutMs: null,
      users: [{ name: 'root', uid: 0 }],
    });
  });

  it('refuses to start on a bad policy with one line naming the setting, the file, the field and the problem', () => {
    const bad = file('bad.yaml', 'users: [no-such-user-warren]\n');
    let message = '';
    try {
      load(['--policy', bad]);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toBe(`--policy (WARREN_POLICY) ${bad}: users[0]: no such user no-such-user-warren on this host`);
    expect(() => load([], { WARREN_POLICY: join(dir, 'missing.yaml') })).toThrow(
      /^--policy \(WARREN_POLICY\) .*missing\.yaml: cannot read the policy file: no such file$/,
    );
  });
});
