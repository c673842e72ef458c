import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyError } from './policy.error';
import {
  agentAccount,
  agentIdentity,
  lookupInPasswdFile,
  parsePasswdLine,
  systemUserDatabase,
  USER_NAME_PATTERN,
} from './user.database';

describe('parsePasswdLine', () => {
  it('reads name, uid, gid, home and shell, and nothing from a line of another shape', () => {
    expect(parsePasswdLine('deploy:x:1001:1002:Deploy Bot,,,:/home/deploy:/bin/bash\n')).toEqual({
      name: 'deploy',
      uid: 1001,
      gid: 1002,
      home: '/home/deploy',
      shell: '/bin/bash',
    });
    expect(parsePasswdLine('svc:x:5:5::::')).toBeNull(); // eight fields
    expect(parsePasswdLine('svc:x:five:5::/:/bin/sh')).toBeNull();
    expect(parsePasswdLine('')).toBeNull();
    expect(parsePasswdLine('svc:x:7:7:::')).toEqual({ name: 'svc', uid: 7, gid: 7, home: '/', shell: '/bin/sh' });
  });
});

describe('systemUserDatabase', () => {
  it('finds users through getent and returns null for unknown ones', () => {
    expect(systemUserDatabase.lookup('root')).toMatchObject({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(systemUserDatabase.lookup('nobody')).toMatchObject({ name: 'nobody', uid: 65534 });
    expect(systemUserDatabase.lookup('no-such-user-warren')).toBeNull();
  });
});

describe('lookupInPasswdFile', () => {
  it('finds a user by exact name in a passwd file, and names a file it cannot read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-passwd-'));
    const file = join(dir, 'passwd');
    writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\ndeploy:x:1001:1001::/home/deploy:/bin/sh\n');
    expect(lookupInPasswdFile('deploy', file)).toMatchObject({ uid: 1001, home: '/home/deploy' });
    expect(lookupInPasswdFile('deplo', file)).toBeNull();
    expect(() => lookupInPasswdFile('deploy', join(dir, 'missing'))).toThrow(PolicyError);
    expect(() => lookupInPasswdFile('deploy', join(dir, 'missing'))).toThrow(/cannot read .*missing/);
  });
});

describe('USER_NAME_PATTERN', () => {
  it('takes login names and refuses uids, options and shell syntax', () => {
    for (const ok of ['deploy', 'www-data', '_apt', 'svc.backup', 'machine$'])
      expect(USER_NAME_PATTERN.test(ok)).toBe(true);
    for (const bad of ['1001', '-s', 'a b', 'a;b', '', 'x'.repeat(70)]) expect(USER_NAME_PATTERN.test(bad)).toBe(false);
  });
});

describe('agentAccount', () => {
  it('is the account of this process', () => {
    expect(agentAccount()).toMatchObject({ uid: process.getuid!(), name: 'root', home: '/root' });
    expect(agentIdentity()).toEqual({ uid: process.getuid!(), user: 'root' });
  });
});
