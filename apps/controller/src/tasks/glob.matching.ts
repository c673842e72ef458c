import { compileHostPattern, naturalCompare } from '@warren/api';

/** Name tests between two yields to the event loop: each costs microseconds, so a slice stays within a few ms. */
export const GLOB_TESTS_PER_SLICE = 1_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The hosts of `hosts` each glob matches (naturally sorted), keyed by glob, matched in slices of
 * {@link GLOB_TESTS_PER_SLICE} name tests with a turn of the event loop between them: however many
 * globs (at most 100 a task) and known hosts there are, `/healthz`, results and deadlines keep
 * being served meanwhile. Throws `HostPatternError` (field `hosts`) for an unreadable glob, before
 * testing any name.
 */
export async function matchGlobs(globs: readonly string[], hosts: readonly string[]): Promise<Map<string, string[]>> {
  const compiled = globs.map((g) => compileHostPattern(g, 'hosts'));
  const unique = [...new Set(hosts)];
  const out = new Map<string, string[]>();
  let tests = 0;
  for (const glob of compiled) {
    const matched: string[] = [];
    for (const h of unique) {
      if (glob.test(h)) matched.push(h);
      if (++tests % GLOB_TESTS_PER_SLICE === 0) await nextTurn();
    }
    out.set(glob.pattern, matched.sort(naturalCompare));
  }
  return out;
}
