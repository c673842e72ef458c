import type { PutTransfer } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FILES_MAX_BYTES, evaluateTransfer, stdinRefusal } from './files.policy';
import { compilePathGlob } from './path.glob';
import { parsePolicy } from './policy.loader';
import type { AgentIdentity, PolicyUser } from './policy.types';

const account = (name: string, uid: number): PolicyUser => ({
  name,
  uid,
  gid: uid,
  home: `/home/${name}`,
  shell: '/bin/sh',
});
const known: Record<string, PolicyUser> = { deploy: account('deploy', 1001), root: account('root', 0) };
const ROOT: AgentIdentity = { uid: 0, user: 'root' };
const groups = { gidOf: (n: string) => ({ www: 33, wheel: 0 })[n] ?? null };
const policy = (yaml: string, agent = known.root) =>
  parsePolicy(yaml, '/p.yaml', { agentMaxOutputBytes: 4096, agent, users: { lookup: (n) => known[n] ?? null } });
const errorOf = (yaml: string) => {
  try {
    policy(yaml);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
};
const putOf = (dest: string, over: Partial<PutTransfer> = {}) => ({
  timeoutMs: 60_000,
  transfer: {
    op: 'put' as const,
    file: { sha256: 'a'.repeat(64), size: 10, chunkSize: 524288, chunks: ['b'.repeat(64)] },
    dest,
    mode: null,
    owner: null,
    group: null,
    mkdir: false,
    ...over,
  },
});
const getOf = (path: string) => ({
  timeoutMs: 60_000,
  transfer: { op: 'get' as const, path, maxBytes: 100, chunkReplyTo: 'ns.fetched' },
});

describe('path globs', () => {
  it.each([
    ['/etc/motd', '/etc/motd', true],
    ['/etc/motd', '/etc/motd.d', false],
    ['/srv/app/**', '/srv/app/a', true],
    ['/srv/app/**', '/srv/app/x/y/z', true],
    ['/srv/app/**', '/srv/app', false],
    ['/srv/app/**', '/srv/application/a', false],
    ['/srv/*/conf', '/srv/web/conf', true],
    ['/srv/*/conf', '/srv/a/b/conf', false],
    ['/var/log/*.log', '/var/log/syslog.log', true],
    ['/var/log/*.log', '/var/log/nginx/a.log', false],
    ['/srv/**/conf', '/srv/conf', true],
    ['/srv/**/conf', '/srv/a/b/conf', true],
    ['/**', '/etc/shadow', true],
    ['/data/f?.txt', '/data/f1.txt', true],
    ['/data/f?.txt', '/data/f/.txt', false],
  ])('%s matches %s: %s', (glob, path, match) => expect(compilePathGlob(glob).test(path)).toBe(match));
});

describe('the files section of a policy', () => {
  it('defaults to no path at all and 100 MiB', () => {
    expect(policy('{}').files).toEqual({ write: [], read: [], maxBytes: DEFAULT_FILES_MAX_BYTES });
  });

  it('reads write, read and maxBytes', () => {
    const p = policy("files:\n  write: ['/etc/motd', '/srv/app/**']\n  read: ['/var/log/**']\n  maxBytes: 1MiB\n");
    expect(p.files.write.map((g) => g.source)).toEqual(['/etc/motd', '/srv/app/**']);
    expect(p.files.read.map((g) => g.source)).toEqual(['/var/log/**']);
    expect(p.files.maxBytes).toBe(1024 * 1024);
  });

  it.each([
    ['files: yes', 'files: must be a mapping (write, read, maxBytes)'],
    ['files: {writ: []}', 'files.writ: unknown field (known: write, read, maxBytes)'],
    ['files: {write: /etc}', 'files.write: must be a list of path globs'],
    ['files: {write: [etc/motd]}', 'files.write[0]: "etc/motd" must be an absolute path glob'],
    ["files: {read: ['/var/../etc']}", 'files.read[0]: "/var/../etc" must not hold . or .. segments'],
    ["files: {read: ['/var/a**']}", 'files.read[0]: "/var/a**": ** must be a whole path segment'],
    ['files: {read: [1]}', 'files.read[0]: must be a string, got 1'],
    ['files: {maxBytes: lots}', 'files.maxBytes: must be a size like 65536, 512KiB or 1MiB, got "lots"'],
  ])('refuses %j naming the field', (yaml, problem) => expect(errorOf(yaml)).toBe(`/p.yaml: ${problem}`));
});

describe('evaluateTransfer', () => {
  const lab = policy(
    "allowRoot: true\nusers: [root, deploy]\nfiles: {write: ['/srv/**'], read: ['/var/log/**'], maxBytes: 100}",
  );

  it('grants a put under files.write as the first user, its primary group, the timeout clamped', () => {
    const p = policy("users: [deploy]\nmaxTimeout: 30s\nfiles: {write: ['/srv/**']}");
    expect(evaluateTransfer(p, putOf('/srv/a/b'), ROOT, groups)).toMatchObject({
      ok: true,
      user: 'deploy',
      uid: 1001,
      gid: 1001,
      timeoutMs: 30_000,
    });
    expect(evaluateTransfer(p, putOf('/srv/a', { group: 'www' }), ROOT, groups)).toMatchObject({ gid: 33 });
  });

  it.each([
    ['/etc/shadow', {}, 'policy: files.write allows no path matching /etc/shadow'],
    ['/srv//../etc/x', {}, 'policy: files.write allows no path matching /srv//../etc/x'],
    ['/srv/x', { owner: 'mallory' }, 'policy: owner mallory is not allowed (allowed: root, deploy)'],
    ['/srv/x', { group: 'nogroup' }, 'policy: no such group nogroup on this host'],
  ])('refuses a put to %s %j', (dest, over, reason) =>
    expect(evaluateTransfer(lab, putOf(dest, over), ROOT, groups)).toEqual({ ok: false, reason }),
  );

  it('refuses a file over files.maxBytes, root or gid 0 without allowRoot, another owner when not root', () => {
    const big = putOf('/srv/x');
    big.transfer.file.size = 101;
    expect(evaluateTransfer(lab, big, ROOT, groups)).toEqual({
      ok: false,
      reason: 'policy: the file is 101 bytes, over files.maxBytes (100)',
    });
    const strict = parsePolicy("users: [deploy]\nfiles: {write: ['/srv/**']}", '/p.yaml', {
      agentMaxOutputBytes: 4096,
      users: { lookup: (n) => known[n] ?? null },
    });
    expect(evaluateTransfer(strict, putOf('/srv/x', { group: 'wheel' }), ROOT, groups)).toEqual({
      ok: false,
      reason: 'policy: refusing to give a file to group wheel (gid 0); set allowRoot: true in the policy',
    });
    expect(evaluateTransfer(strict, putOf('/srv/x'), { uid: 1002, user: 'bob' }, groups)).toEqual({
      ok: false,
      reason: 'policy: cannot write a file owned by deploy: the agent is not root (it runs as bob)',
    });
    const rootDefault = parsePolicy("files: {write: ['/srv/**']}", '/p.yaml', {
      agentMaxOutputBytes: 4096,
      agent: known.root,
    });
    expect(evaluateTransfer(rootDefault, putOf('/srv/x'), ROOT, groups)).toEqual({
      ok: false,
      reason: 'policy: refusing to write a file owned by root; set allowRoot: true in the policy',
    });
  });

  it('grants a get under files.read, refuses one elsewhere', () => {
    expect(evaluateTransfer(lab, getOf('/var/log/syslog'), ROOT, groups)).toMatchObject({ ok: true });
    expect(evaluateTransfer(lab, getOf('/etc/passwd'), ROOT, groups)).toEqual({
      ok: false,
      reason: 'policy: files.read allows no path matching /etc/passwd',
    });
  });

  it('refuses a stdin over files.maxBytes', () => {
    const m = { sha256: 'a'.repeat(64), size: 101, chunkSize: 524288, chunks: ['b'.repeat(64)] };
    expect(stdinRefusal(lab, { stdin: m })).toBe('policy: stdin is 101 bytes, over files.maxBytes (100)');
    expect(stdinRefusal(lab, { stdin: { ...m, size: 100 } })).toBeNull();
    expect(stdinRefusal(lab, {})).toBeNull();
  });
});
