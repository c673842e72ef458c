import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError } from './policy.error';
import { defaultPolicy, loadAgentPolicy, parsePolicy, type PolicyLoadOptions } from './policy.loader';
import type { PolicyUser } from './policy.types';
import type { UserDatabase } from './user.database';

const account = (name: string, uid: number): PolicyUser => ({
  name,
  uid,
  gid: uid,
  home: `/home/${name}`,
  shell: '/bin/sh',
});
const known: Record<string, PolicyUser> = {
  deploy: account('deploy', 1001),
  'www-data': account('www-data', 33),
  root: { ...account('root', 0), home: '/root' },
  toor: account('toor', 0),
};
const users: UserDatabase = { lookup: (name) => known[name] ?? null };
const agent = account('warren', 999);
const opts: PolicyLoadOptions = { agentMaxOutputBytes: 1_048_576, agent, users };
const FILE = '/etc/warren/policy.yaml';
const parse = (text: string, o: Partial<PolicyLoadOptions> = {}) => parsePolicy(text, FILE, { ...opts, ...o });
const errorOf = (text: string, o: Partial<PolicyLoadOptions> = {}): string => {
  try {
    parse(text, o);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a PolicyError');
};

describe('parsePolicy', () => {
  it('reads every field of a YAML policy and resolves its users', () => {
    const p = parse(`
allow: ["systemctl status *", "df *", "/^uptime$/"]
deny: ["rm -rf /*", "/shutdown|reboot/"]
users: [deploy, www-data]
allowRoot: false
maxTimeout: 1h
maxOutputBytes: 512KiB
`);
    expect(p.file).toBe(FILE);
    expect(p.allow.map((a) => [a.source, a.kind])).toEqual([
      ['systemctl status *', 'glob'],
      ['df *', 'glob'],
      ['/^uptime$/', 'regex'],
    ]);
    expect(p.deny.map((d) => d.kind)).toEqual(['glob', 'regex']);
    expect(p.users).toEqual([known.deploy, known['www-data']]);
    expect(p).toMatchObject({ allowRoot: false, maxTimeoutMs: 3_600_000, maxOutputBytes: 512 * 1024 });
  });

  it('reads JSON too, and defaults what it leaves out: everything allowed, as the agent, no ceilings', () => {
    const p = parse('{"allowRoot": true}');
    expect(p).toMatchObject({
      allow: [],
      deny: [],
      users: [agent],
      allowRoot: true,
      maxTimeoutMs: null,
      maxOutputBytes: 1_048_576,
    });
    expect(parse('{}').allowRoot).toBe(false);
  });

  it("never raises the agent's own output cap", () => {
    expect(parse('maxOutputBytes: 1GiB').maxOutputBytes).toBe(1_048_576);
    expect(parse('maxOutputBytes: 100').maxOutputBytes).toBe(100);
    expect(parse('maxOutputBytes: 1.5 KiB').maxOutputBytes).toBe(1536);
  });

  it('takes maxTimeout as a duration or a number of seconds', () => {
    expect(parse('maxTimeout: 90').maxTimeoutMs).toBe(90_000);
    expect(parse('maxTimeout: 500ms').maxTimeoutMs).toBe(500);
    expect(parse('maxTimeout: 2m').maxTimeoutMs).toBe(120_000);
  });

  it('lets root in only with allowRoot, whatever the name of the uid-0 account', () => {
    expect(errorOf('users: [deploy, root]')).toBe(
      `${FILE}: users[1]: root is uid 0; set allowRoot: true to let commands run as root`,
    );
    expect(errorOf('users: [toor]')).toMatch(/users\[0\]: toor is uid 0/);
    expect(parse('{users: [root], allowRoot: true}').users).toEqual([known.root]);
  });

  it.each([
    ['allow: "df *"', 'allow: must be a list'],
    ['deny: [1]', 'deny[0]: must be a string, got 1'],
    ['deny: ["ok", "/(/"]', 'deny[1]: Invalid regular expression: /(/: Unterminated group'],
    ['allow: [""]', 'allow[0]: a pattern must not be empty'],
    ['users: [deploy, db-admin]', 'users[1]: no such user db-admin on this host'],
    ['users: [deploy, deploy]', 'users[1]: deploy is listed twice'],
    ['users: ["1001"]', 'users[0]: "1001" is not a user name'],
    ['users: []', "users: must name at least one user (leave it out for the agent's own user)"],
    ['allowRoot: yes', 'allowRoot: must be true or false, got "yes"'],
    ['maxTimeout: soon', 'maxTimeout: must be a duration like 30s, 5m or 1h, got "soon"'],
    ['maxTimeout: 0s', 'maxTimeout: must be more than 0'],
    ['maxOutputBytes: 1MB', 'maxOutputBytes: must be a size like 65536, 512KiB or 1MiB, got "1MB"'],
    ['maxOutputBytes: -1', 'maxOutputBytes: must be a whole number of bytes, got -1'],
    [
      'alow: ["df *"]',
      'alow: unknown field (known: allow, deny, users, allowRoot, maxTimeout, maxOutputBytes, maxProcesses, env, files)',
    ],
    ['maxProcesses: 0', 'maxProcesses: must be a whole number from 1 to 1000000, got 0'],
    ['maxProcesses: "lots"', 'maxProcesses: must be a whole number from 1 to 1000000, got "lots"'],
    ['- df *', 'must be a mapping of fields (allow, deny, users, ...)'],
    ['', 'is empty (write {} for the default policy on purpose)'],
  ])('refuses %j naming the file and the field', (text, problem) => {
    expect(errorOf(text)).toBe(`${FILE}: ${problem}`);
  });

  it('reports YAML syntax errors and duplicate keys on one line', () => {
    expect(errorOf('allow: [df *\ndeny: []')).toMatch(new RegExp(`^${FILE}: not valid YAML: `));
    expect(errorOf('allowRoot: true\nallowRoot: false')).toMatch(/not valid YAML: .*unique/i);
  });

  it('compiles argument placeholders in allow, and refuses one in deny naming the entry', () => {
    const policy = parse('allow: ["systemctl status {unit}"]');
    expect(policy.allow[0].test('systemctl status nginx')).toBe(true);
    expect(policy.allow[0].test('systemctl status -H user@host')).toBe(false);
    expect(errorOf('deny: ["reboot", "systemctl stop {unit}"]')).toBe(
      `${FILE}: deny[1]: glob "systemctl stop {unit}": {unit} pins an argument, which only an allow entry can do (write * in deny, or \\{unit} for the literal text)`,
    );
  });

  it('passes on a failure of the user database as a load error', () => {
    const broken: UserDatabase = {
      lookup: () => {
        throw new PolicyError('cannot look up user deploy: getent passwd failed: timeout');
      },
    };
    expect(errorOf('users: [deploy]', { users: broken })).toBe(
      `${FILE}: users[0]: cannot look up user deploy: getent passwd failed: timeout`,
    );
  });
});

describe('loadAgentPolicy', () => {
  it('reads the file, or gives the default policy for none, and names a file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, 'users: [www-data]\nmaxTimeout: 10m\n');
    expect(loadAgentPolicy(file, opts)).toMatchObject({ file, users: [known['www-data']], maxTimeoutMs: 600_000 });
    expect(loadAgentPolicy(null, opts)).toEqual(defaultPolicy(opts));
    expect(defaultPolicy(opts)).toMatchObject({
      file: null,
      allow: [],
      deny: [],
      users: [agent],
      allowRoot: false,
      maxTimeoutMs: null,
    });
    expect(() => loadAgentPolicy(join(dir, 'missing.yaml'), opts)).toThrow(
      `${join(dir, 'missing.yaml')}: cannot read the policy file: no such file`,
    );
    expect(() => loadAgentPolicy(dir, opts)).toThrow(`${dir}: cannot read the policy file: is a directory`);
  });

  it('loads the example policies shipped in docs/examples with the real user database', () => {
    const root = join(__dirname, '../../../../docs/examples');
    const lab = loadAgentPolicy(join(root, 'lab-policy.yaml'), { agentMaxOutputBytes: 1024 });
    expect(lab).toMatchObject({ allowRoot: true, allow: [], deny: [] });
    // The lab lets `warren cp` and `warren fetch` use any path (the e2e harness and quick start rely on it).
    expect([lab.files.write, lab.files.read].map((l) => l.map((g) => g.source))).toEqual([['/**'], ['/**']]);
    expect(lab.files.write[0].test('/etc/motd')).toBe(true);
    // The full example names deploy and www-data, which a test host may lack: the fake database has them.
    const p = loadAgentPolicy(join(root, 'agent-policy.yaml'), {
      agentMaxOutputBytes: 1_048_576,
      users: { lookup: (n) => known[n] ?? null },
    });
    expect(p.allow.length).toBeGreaterThan(0);
    expect(p.deny.length).toBeGreaterThan(0);
    expect(p.users.map((u) => u.name)).toEqual(['deploy', 'www-data']);
    const allowed = (c: string) => p.allow.some((a) => a.test(c)) && !p.deny.some((d) => d.test(c));
    for (const ok of ['uptime', 'df -h /', 'ls -l /var/log/syslog', 'journalctl -u nginx -n 50'])
      expect(allowed(ok)).toBe(true);
    for (const no of ['df -h; rm -rf /', 'ls /var/log; id', 'free -s REBOOT', 'ls -l /etc'])
      expect(allowed(no)).toBe(false);
    expect(p).toMatchObject({ allowRoot: false, maxTimeoutMs: 3_600_000, maxOutputBytes: 256 * 1024 });
    const writable = (path: string) => p.files.write.some((g) => g.test(path));
    expect(['/etc/motd', '/srv/app/conf/x.yaml', '/etc/shadow', '/srv/app'].map(writable)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(p.files.read.some((g) => g.test('/var/log/nginx/access.log'))).toBe(true);
    expect(p.files.maxBytes).toBe(100 * 1024 * 1024);
  });
});
