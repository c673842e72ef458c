import { HostPatternError } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { GLOB_TESTS_PER_SLICE, matchGlobs } from './glob.matching';

describe('matchGlobs', () => {
  it('finds each glob its hosts, naturally sorted, once each', async () => {
    const found = await matchGlobs(['web*', 'db?', 'x*'], ['web10', 'db1', 'web2', 'web2', 'db12']);
    expect([...found]).toEqual([
      ['web*', ['web2', 'web10']],
      ['db?', ['db1']],
      ['x*', []],
    ]);
  });

  it('lets the event loop turn while it matches many globs against many hosts', async () => {
    const hosts = Array.from({ length: 5_000 }, (_, i) => `web-frontend-${i}.example`);
    const globs = Array.from({ length: 10 }, (_, i) => `${'*'.repeat(20)}${'*e'.repeat(8)}${i}q`);
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    try {
      await matchGlobs(globs, hosts);
    } finally {
      clearInterval(ticker);
    }
    // 50,000 tests in slices of 1,000: timers ran between slices, where one blocking loop would let none.
    expect(hosts.length * globs.length).toBeGreaterThan(10 * GLOB_TESTS_PER_SLICE);
    expect(turns).toBeGreaterThan(0);
  });

  it('refuses an unreadable glob before testing any host', async () => {
    await expect(matchGlobs(['web[1-*'], ['web1'])).rejects.toThrow(HostPatternError);
  });
});
