import { describe, expect, it } from 'vitest';
import { describePolicy, evaluatePolicy, formatDuration } from './policy.decision';
import { parsePolicy } from './policy.loader';
import type { AgentIdentity, PolicyUser } from './policy.types';

const account = (name: string, uid: number): PolicyUser => ({
  name,
  uid,
  gid: uid + 1,
  home: `/home/${name}`,
  shell: '/bin/bash',
});
const known: Record<string, PolicyUser> = {
  deploy: account('deploy', 1001),
  'www-data': account('www-data', 33),
  root: { ...account('root', 0), home: '/root' },
};
const ROOT: AgentIdentity = { uid: 0, user: 'root' };
const policy = (yaml: string, agentUser: PolicyUser = known.root) =>
  parsePolicy(yaml, '/p.yaml', {
    agentMaxOutputBytes: 1_048_576,
    agent: agentUser,
    users: { lookup: (n) => known[n] ?? null },
  });
const ask = (command: string, runAs: string | null = null, timeoutMs = 60_000) => ({ command, runAs, timeoutMs });

const LAB = policy(`
allow: ["systemctl status *", "df *", "/^uptime$/"]
deny: ["*rm -rf /*", "/shutdown|reboot/"]
users: [deploy, www-data]
maxTimeout: 1h
maxOutputBytes: 64KiB
`);

describe('evaluatePolicy', () => {
  it("grants an allowed command as the default user, with that user's ids and home and the policy's output cap", () => {
    expect(evaluatePolicy(LAB, ask('df -h'), ROOT)).toEqual({
      ok: true,
      user: 'deploy',
      uid: 1001,
      gid: 1002,
      home: '/home/deploy',
      shell: '/bin/bash',
      timeoutMs: 60_000,
      maxOutputBytes: 65_536,
      maxProcesses: null,
      note: null,
    });
    expect(evaluatePolicy(LAB, ask('uptime', 'www-data'), ROOT)).toMatchObject({ ok: true, user: 'www-data', uid: 33 });
  });

  it('with an allow list, refuses env variables the policy does not name (BASH_ENV, LD_PRELOAD… change what an allowed command does)', () => {
    const strict = parsePolicy('allow: ["df *"]\nenv: [LANG, "LC_*"]\nallowRoot: true\n', 'p.yaml', {
      agentMaxOutputBytes: 1024,
    });
    expect(
      evaluatePolicy(strict, { command: 'df -h', runAs: null, timeoutMs: 1000, envNames: ['LANG', 'LC_ALL'] }, ROOT),
    ).toMatchObject({ ok: true });
    expect(
      evaluatePolicy(strict, { command: 'df -h', runAs: null, timeoutMs: 1000, envNames: ['BASH_ENV'] }, ROOT),
    ).toEqual({ ok: false, reason: 'policy: env BASH_ENV is not allowed (allowed: LANG, LC_*)' });
    const noEnv = parsePolicy('allow: ["df *"]\nallowRoot: true\n', 'p.yaml', { agentMaxOutputBytes: 1024 });
    expect(
      evaluatePolicy(noEnv, { command: 'df -h', runAs: null, timeoutMs: 1000, envNames: ['LD_PRELOAD'] }, ROOT),
    ).toEqual({ ok: false, reason: 'policy: env LD_PRELOAD is not allowed (allowed: none)' });
    const open = parsePolicy('allowRoot: true\n', 'p.yaml', { agentMaxOutputBytes: 1024 });
    expect(
      evaluatePolicy(open, { command: 'anything', runAs: null, timeoutMs: 1000, envNames: ['LD_PRELOAD'] }, ROOT),
    ).toMatchObject({ ok: true });
  });

  it('refuses a command matching no allow pattern, including an allowed one with another chained to it', () => {
    for (const command of ['reboot now', 'df -h; rm -rf /tmp/x', 'df $(id)', 'uptime && id']) {
      expect(evaluatePolicy(LAB, ask(command), ROOT)).toEqual({
        ok: false,
        reason: expect.stringMatching(/^policy: command matches (no allow pattern|deny pattern)/),
      });
    }
    expect(evaluatePolicy(LAB, ask('id'), ROOT)).toEqual({
      ok: false,
      reason: 'policy: command matches no allow pattern',
    });
  });

  it('lets deny win over allow, naming the deny pattern', () => {
    const p = policy('{allow: ["*"], deny: ["/shutdown|reboot/", "*rm -rf /*"], allowRoot: true}');
    expect(evaluatePolicy(p, ask('sudo reboot'), ROOT)).toEqual({
      ok: false,
      reason: 'policy: command matches deny pattern "/shutdown|reboot/"',
    });
    expect(evaluatePolicy(p, ask('rm -rf / --no-preserve-root'), ROOT)).toEqual({
      ok: false,
      reason: 'policy: command matches deny pattern "*rm -rf /*"',
    });
    expect(evaluatePolicy(p, ask('ls -l'), ROOT)).toMatchObject({ ok: true });
    // A deny glob's wildcards cross metacharacters, so the dangerous part may hide behind others.
    expect(evaluatePolicy(p, ask('echo hi; rm -rf / '), ROOT)).toMatchObject({ ok: false });
  });

  it('allows every command not denied when the allow list is empty', () => {
    const p = policy('{deny: ["/reboot/"], users: [deploy]}');
    expect(evaluatePolicy(p, ask('anything | at all; $(really)'), ROOT)).toMatchObject({ ok: true });
    expect(evaluatePolicy(p, ask('reboot'), ROOT)).toMatchObject({ ok: false });
  });

  it('refuses a user the policy does not list, naming those it does', () => {
    expect(evaluatePolicy(LAB, ask('df -h', 'db-admin'), ROOT)).toEqual({
      ok: false,
      reason: 'policy: user db-admin is not allowed (allowed: deploy, www-data)',
    });
    expect(evaluatePolicy(LAB, ask('df -h', 'root'), ROOT)).toMatchObject({
      ok: false,
      reason: 'policy: user root is not allowed (allowed: deploy, www-data)',
    });
  });

  it('refuses to run as root without allowRoot, also when root is only the default (no policy file, agent as root)', () => {
    const none = policy('{}'); // like no --policy: users = the agent's own (root here)
    expect(evaluatePolicy(none, ask('id'), ROOT)).toEqual({
      ok: false,
      reason: 'policy: refusing to run as root; set allowRoot: true in the policy or run the agent as another user',
    });
    const lab = policy('allowRoot: true');
    expect(evaluatePolicy(lab, ask('id'), ROOT)).toMatchObject({ ok: true, user: 'root', uid: 0, home: '/root' });
    expect(evaluatePolicy(lab, ask('id', 'root'), ROOT)).toMatchObject({ ok: true, user: 'root' });
  });

  it('refuses another user when the agent is not root, and runs as the agent itself', () => {
    const agent: AgentIdentity = { uid: 1001, user: 'deploy' };
    const p = policy('users: [deploy, www-data]', known.deploy);
    expect(evaluatePolicy(p, ask('id', 'www-data'), agent)).toEqual({
      ok: false,
      reason: 'policy: cannot run as www-data: the agent is not root (it runs as deploy)',
    });
    expect(evaluatePolicy(p, ask('id'), agent)).toMatchObject({ ok: true, user: 'deploy', uid: 1001 });
    expect(evaluatePolicy(policy('{}', known.deploy), ask('id'), agent)).toMatchObject({ ok: true, user: 'deploy' });
  });

  it('clamps a timeout above the ceiling and says so, and keeps one below it', () => {
    expect(evaluatePolicy(LAB, ask('df -h', null, 7_200_000), ROOT)).toMatchObject({
      ok: true,
      timeoutMs: 3_600_000,
      note: 'timeout clamped to 1h by policy (asked 2h)',
    });
    expect(evaluatePolicy(LAB, ask('df -h', null, 3_600_000), ROOT)).toMatchObject({
      ok: true,
      timeoutMs: 3_600_000,
      note: null,
    });
    expect(evaluatePolicy(policy('allowRoot: true'), ask('df', null, 7 * 86_400_000), ROOT)).toMatchObject({
      timeoutMs: 7 * 86_400_000,
      note: null,
    });
  });
});

describe('formatDuration', () => {
  it('uses the largest unit that divides exactly', () => {
    expect([3_600_000, 5_400_000, 90_000, 1_000, 1_500, 0].map(formatDuration)).toEqual([
      '1h',
      '90m',
      '90s',
      '1s',
      '1500ms',
      '0ms',
    ]);
  });
});

describe('describePolicy', () => {
  it('summarises the policy for the start-up log without its patterns', () => {
    expect(describePolicy(LAB)).toEqual({
      file: '/p.yaml',
      allow: 3,
      deny: 2,
      users: ['deploy', 'www-data'],
      allowRoot: false,
      maxTimeoutMs: 3_600_000,
      maxOutputBytes: 65_536,
      files: { write: 0, read: 0, maxBytes: 100 * 1024 * 1024 },
    });
  });
});
