import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { findCgroup2Mount, ownCgroupPath } from './cgroup.tracker';
import { chooseTracking } from './process.tracking';

const silent = pino({ level: 'silent' });
const noCgroup2 = { mountinfo: '31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw', procSelfCgroup: '1:cpu:/\n' };

describe('chooseTracking', () => {
  it('falls back to process groups with the reason in auto mode, refuses in cgroup mode, does not try in process-group mode', () => {
    expect(chooseTracking('auto', 'x', silent, noCgroup2)).toEqual({
      cgroups: null,
      note: 'no cgroup2 filesystem in /proc/self/mountinfo',
    });
    expect(() => chooseTracking('cgroup', 'x', silent, noCgroup2)).toThrow(
      '--process-tracking cgroup: no cgroup2 filesystem in /proc/self/mountinfo',
    );
    expect(chooseTracking('process-group', 'x', silent)).toEqual({
      cgroups: null,
      note: 'process-group chosen by --process-tracking',
    });
  });
});

describe('cgroup2 discovery', () => {
  it('finds the cgroup2 mount of a hybrid host, of a pure v2 host (escaped spaces), and none', () => {
    const hybrid = [
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(findCgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(findCgroup2Mount('29 23 0:26 / /sys/fs/my\\040cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate')).toBe(
      '/sys/fs/my cgroup',
    );
    expect(findCgroup2Mount(noCgroup2.mountinfo)).toBeNull();
    expect(ownCgroupPath('1:cpu:/\n0::/system.slice/warren-agent.service\n')).toBe(
      '/system.slice/warren-agent.service',
    );
    expect(ownCgroupPath('1:cpu:/\n')).toBeNull();
  });
});
