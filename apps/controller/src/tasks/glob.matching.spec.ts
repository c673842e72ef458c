import { HostPatternError } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { UnprocessableTaskError } from '../errors/errors';
import { costlyMatching, GLOB_MATCH_BUDGET, matchGlobs } from './glob.matching';

/** 10,000 63-character names that are nearly all digits: every bracket of a glob finds work everywhere. */
const digitHeavy = Array.from({ length: 10_000 }, (_, i) => `${i}`.padStart(5, '0') + '1234567890'.repeat(6).slice(2));

/** ms: the longest pause between two event-loop turns a test allows (see the first use). */
const GAP_LIMIT_MS = 250;

/** Runs `work` while a probe notes the longest time between two turns of the event loop (ms). */
async function longestGap<T>(work: () => Promise<T>): Promise<{ result: T; gap: number; turns: number }> {
  let last = performance.now();
  let gap = 0;
  let turns = 0;
  let running = true;
  const probe = () => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    turns++;
    if (running) setImmediate(probe);
  };
  setImmediate(probe);
  try {
    return { result: await work(), gap, turns };
  } finally {
    running = false;
  }
}

describe('matchGlobs', () => {
  it('matches costly requests one at a time, in arrival order, while a cheap one goes straight through', async () => {
    const glob = `${'*[0-999999999999]'.repeat(8)}*a?`;
    let most = 0;
    let queued = 0;
    let watching = true;
    const watch = () => {
      most = Math.max(most, costlyMatching.running);
      queued = Math.max(queued, costlyMatching.waiting);
      if (watching) setImmediate(watch);
    };
    setImmediate(watch);
    const done: string[] = [];
    const first = matchGlobs([glob], digitHeavy).then(() => done.push('first'));
    // Arrival is at the gate, after each request's cost pass: the second comes once the first is in.
    while (costlyMatching.running === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = matchGlobs([glob, glob], digitHeavy).then(() => done.push('second'));
    const cheap = matchGlobs(['web*'], ['web1', 'db1']).then(() => done.push('cheap'));
    await Promise.all([first, second, cheap]);
    watching = false;
    expect(done).toEqual(['cheap', 'first', 'second']);
    expect(most).toBe(1);
    expect(queued).toBe(1);
    expect([costlyMatching.running, costlyMatching.waiting]).toEqual([0, 0]);
  });

  it('finds each glob its hosts, naturally sorted, once each', async () => {
    const found = await matchGlobs(['web*', 'db?', 'x*'], ['web10', 'db1', 'web2', 'web2', 'db12']);
    expect([...found]).toEqual([
      ['web*', ['web2', 'web10']],
      ['db?', ['db1']],
      ['x*', []],
    ]);
  });

  it('keeps every gap between event-loop turns short while costly bracket globs run over 10,000 digit-heavy names', async () => {
    expect(digitHeavy[0]).toHaveLength(63);
    // Eight 12-digit brackets, each before a `*`, and an end no name has: every name is read to its end.
    const glob = `${'*[0-999999999999]'.repeat(8)}*a?`;
    const { result, gap, turns } = await longestGap(() => matchGlobs([glob], digitHeavy));
    expect(result.get(glob)).toEqual([]);
    // Hundreds of ms of matching in 5 ms slices: the loop turned many times, whatever the machine's speed.
    expect(turns).toBeGreaterThanOrEqual(10);
    // Matching yields every 5 ms of work (about a second of it here, so the loop turns many times).
    // 250 ms leaves room for a loaded 2-core machine (CI saw 53 ms) and still fails a matcher that
    // holds the loop for the whole second.
    expect(gap).toBeLessThan(GAP_LIMIT_MS);
  });

  it('refuses the 255-character attack glob of twelve 14-digit brackets before testing any host, naming the rule', async () => {
    const attack = '*[0-99999999999999]*'.repeat(12).slice(0, 255);
    const { result, gap } = await longestGap(() => matchGlobs([attack], digitHeavy).catch((e: unknown) => e));
    expect(result).toBeInstanceOf(HostPatternError);
    expect((result as Error).message).toMatch(/^hosts: host pattern ".*": 12 brackets; a glob holds at most 8$/);
    expect(gap).toBeLessThan(GAP_LIMIT_MS);
  });

  it('refuses with a 422 a request whose globs would cost more than the budget, before matching any name', async () => {
    const globs = Array.from({ length: 100 }, (_, i) => `*${i}*[0-99]*`);
    const { result, gap } = await longestGap(() => matchGlobs(globs, digitHeavy).catch((e: unknown) => e));
    expect(result).toBeInstanceOf(UnprocessableTaskError);
    expect((result as Error).message).toMatch(
      new RegExp(
        `against the 10000 known hosts would take more than the ${GLOB_MATCH_BUDGET} steps one request may take`,
      ),
    );
    expect(gap).toBeLessThan(GAP_LIMIT_MS);
  });

  it('takes everyday globs against 10,000 hosts well within the budget', async () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => `ip-10-0-${i % 256}-${i}.eu-west-1.compute.internal`);
    const globs = Array.from({ length: 100 }, (_, i) => `ip-10-0-${i}-*.eu-west-1.compute.internal`);
    // Each glob's literal start and end rule out all but 40 names at a step each: a tenth of the budget is plenty.
    const found = await matchGlobs(globs, hosts, GLOB_MATCH_BUDGET / 10);
    expect(found.get('ip-10-0-7-*.eu-west-1.compute.internal')).toHaveLength(40);
  });

  it('refuses an unreadable glob before testing any host', async () => {
    await expect(matchGlobs(['web[1-*'], ['web1'])).rejects.toThrow(HostPatternError);
  });
});
