import { HostPatternError } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { BadQueryError, UnprocessableTaskError } from '../errors/errors';
import { type KnownHost, MAX_TARGET_GLOBS, planTarget, resolveTarget } from './target.resolver';

const online = (host: string, labels: Record<string, string> = {}): KnownHost => ({
  host,
  status: 'online',
  labels,
  trusted: true,
});
const KNOWN: KnownHost[] = [
  online('web10', { role: 'web', zone: 'eu' }),
  online('web2', { role: 'web', zone: 'us' }),
  online('web1', { role: 'web', zone: 'eu' }),
  online('db1', { role: 'db', zone: 'eu' }),
  { host: 'web3', status: 'offline', labels: { role: 'web', zone: 'eu' }, trusted: true },
  { host: 'web4', status: 'online', labels: { role: 'web', zone: 'eu' }, trusted: false },
];

describe('resolveTarget', () => {
  it('takes names and ranges as given, known or not, in order and without repeats', () => {
    expect(resolveTarget({ hosts: ['db1', 'web[01-02]', 'ghost', 'db1'] }, KNOWN).hosts).toEqual([
      'db1',
      'web01',
      'web02',
      'ghost',
    ]);
    expect(resolveTarget({ hosts: ['web3'] }, KNOWN)).toEqual({ hosts: ['web3'], excluded: [], unmatched: [] });
  });

  it('matches globs among online hosts with accepted keys, in natural order, and lists the known ones it left out', () => {
    expect(resolveTarget({ hosts: ['web*'] }, KNOWN)).toEqual({
      hosts: ['web1', 'web2', 'web10'],
      excluded: [
        { host: 'web3', reason: 'offline' },
        { host: 'web4', reason: 'key not accepted' },
      ],
      unmatched: [],
    });
    expect(resolveTarget({ hosts: ['web?', 'cache*'] }, KNOWN)).toMatchObject({
      hosts: ['web1', 'web2'],
      unmatched: ['cache*'],
    });
  });

  it('ANDs labels, alone, with all, or narrowing hosts', () => {
    expect(resolveTarget({ labels: { zone: 'eu' } }, KNOWN).hosts).toEqual(['db1', 'web1', 'web10']);
    expect(resolveTarget({ labels: { zone: 'eu', role: 'web' } }, KNOWN).hosts).toEqual(['web1', 'web10']);
    expect(resolveTarget({ all: true, labels: { role: 'db' } }, KNOWN).hosts).toEqual(['db1']);
    expect(resolveTarget({ hosts: ['web*'], labels: { zone: 'us' } }, KNOWN)).toEqual({
      hosts: ['web2'],
      excluded: [],
      unmatched: [],
    });
    // A named host is kept only if presence knows it with those labels.
    expect(resolveTarget({ hosts: ['web1', 'web2', 'ghost'], labels: { zone: 'eu' } }, KNOWN).hosts).toEqual(['web1']);
  });

  it('takes every usable host with all', () => {
    expect(resolveTarget({ all: true }, KNOWN).hosts).toEqual(['db1', 'web1', 'web2', 'web10']);
  });

  it('refuses a target that matches nothing with a 422 that says what is online and what matched but is left out', () => {
    expect(() => resolveTarget({ hosts: ['cache*'] }, KNOWN)).toThrow(UnprocessableTaskError);
    expect(() => resolveTarget({ hosts: ['cache*'] }, KNOWN)).toThrow(
      'no host matches the target (hosts cache*); nothing was sent. 4 usable hosts are online',
    );
    expect(() => resolveTarget({ labels: { zone: 'eu' }, hosts: ['web[3-4]*'] }, KNOWN)).toThrow(
      /1 matching known host is offline: web3; 1 matching known host is without an accepted key: web4/,
    );
    expect(() => resolveTarget({ labels: { role: 'mail' } }, KNOWN)).toThrow(/labels role=mail/);
    expect(() => resolveTarget({ all: true }, [])).toThrow(/0 usable hosts are online/);
  });

  it('refuses unreadable or contradictory selectors with a 400', () => {
    expect(() => resolveTarget({}, KNOWN)).toThrow(BadQueryError);
    expect(() => resolveTarget({ hosts: [], labels: {} }, KNOWN)).toThrow(/say which hosts/);
    expect(() => resolveTarget({ all: true, hosts: ['web1'] }, KNOWN)).toThrow(/all cannot be combined with hosts/);
    expect(() => resolveTarget({ hosts: ['web[1-'] }, KNOWN)).toThrow(/^hosts: host pattern "web\[1-"/);
    expect(() => resolveTarget({ hosts: ['web[abc]*'] }, KNOWN)).toThrow(HostPatternError);
  });

  it('refuses more hosts than a task may have', () => {
    expect(() => resolveTarget({ hosts: ['h[1-6]', 'h[7-12]'] }, KNOWN, 10)).toThrow(
      /stand for more than the 10 hosts one task may have \(counted up to "h\[7-12\]"\)/,
    );
    expect(() => resolveTarget({ hosts: ['h[1-20]'] }, KNOWN, 10)).toThrow(
      /hosts: .*expands to 20 names, more than the limit of 10/,
    );
  });

  it('stops at the pattern whose running total passes the limit, before expanding any', () => {
    // A thousand patterns of 10,000 names each: ten million names if expanded before the limit is checked.
    const hosts = Array.from({ length: 1000 }, (_, i) => `x${i}y[0-9999]`);
    const err = (() => {
      try {
        return planTarget({ hosts });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(UnprocessableTaskError);
    expect((err as Error).message).toMatch(
      /more than the 10000 hosts one task may have \(counted up to "x1y\[0-9999\]"\)/,
    );
    // Repeats count too: the same range twice is past the limit even though it names 10,000 hosts.
    expect(() => planTarget({ hosts: ['x0y[0-9999]', 'x0y[0-9999]'] })).toThrow(UnprocessableTaskError);
  });

  it('bounds the globs of one target with a 400 naming the bound', () => {
    const globs = Array.from({ length: MAX_TARGET_GLOBS + 1 }, (_, i) => `web${i}*`);
    expect(() => planTarget({ hosts: globs })).toThrow(BadQueryError);
    expect(() => planTarget({ hosts: globs })).toThrow(/101 globs, more than the 100 one task may have/);
    expect(planTarget({ hosts: globs.slice(1) }).globs).toHaveLength(MAX_TARGET_GLOBS);
  });
});
