import { describe, expect, it } from 'vitest';
import { HostScope, validateHostPatterns } from './host-patterns';

describe('HostScope', () => {
  it('reaches every host without patterns', () => {
    const s = new HostScope(null);
    expect(s.unlimited).toBe(true);
    expect(s.outside(['anything', 'db1'])).toEqual([]);
  });

  it('matches globs, ranges with padding, and exact names, anchored at both ends', () => {
    const s = new HostScope(['web*', 'db[1-3]', 'lb[01-02]', 'cache?', 'bastion']);
    for (const h of ['web', 'web1', 'web-eu.1', 'db1', 'db3', 'lb01', 'lb02', 'cache7', 'bastion'])
      expect(s.allows(h), h).toBe(true);
    for (const h of ['db4', 'db10', 'xweb1', 'lb1', 'lb03', 'cache', 'cache12', 'bastion2', 'mydb1'])
      expect(s.allows(h), h).toBe(false);
  });

  it('lists the hosts outside, once each, in the order given', () => {
    expect(new HostScope(['web*']).outside(['db1', 'web1', 'db1', 'mail'])).toEqual(['db1', 'mail']);
  });

  it('refuses patterns it cannot read, naming them', () => {
    expect(() => validateHostPatterns(['web*', 'db[x]'])).toThrow(/db\[x\]/);
    expect(() => validateHostPatterns(['a,b'])).toThrow(/","/);
    expect(() => validateHostPatterns([' '])).toThrow(/no host pattern/);
    expect(validateHostPatterns([' web* '])).toEqual(['web*']);
  });
});
