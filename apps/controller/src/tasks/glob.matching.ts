import { compileHostPattern, type HostMatcher, naturalCompare } from '@warren/api';
import { UnprocessableTaskError } from '../errors/errors';

/** ms of matching between two turns of the event loop. */
export const GLOB_SLICE_MS = 5;

/** Name tests between two looks at the clock: at most a few ms of the costliest tests. */
const TESTS_PER_CLOCK_READ = 32;

/**
 * Most matching steps one request's globs may cost against the known hosts (see
 * `HostMatcher.cost`: a name a glob's length or literal ends rule out costs 1, another its
 * characters + 1 times the glob's steps). About 1 s of CPU at the costliest steps on a small
 * machine; everyday globs (`web*`, `db-eu-*`) against 10,000 hosts cost a few hundred thousand.
 */
export const GLOB_MATCH_BUDGET = 100_000_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `work` on each of `count` items, letting the event loop turn whenever
 * {@link GLOB_SLICE_MS} have passed since the last turn (the clock read every
 * {@link TESTS_PER_CLOCK_READ} items): however costly each item, nothing else waits long.
 */
async function sliced(count: number, work: (index: number) => void): Promise<void> {
  let since = performance.now();
  for (let i = 0; i < count; i++) {
    work(i);
    if ((i + 1) % TESTS_PER_CLOCK_READ === 0 && performance.now() - since >= GLOB_SLICE_MS) {
      await nextTurn();
      since = performance.now();
    }
  }
}

/**
 * The hosts of `hosts` each glob matches (naturally sorted), keyed by glob. First every glob's
 * cost on every host is added up (cheap: lengths and literal ends); past `budget` steps this throws
 * {@link UnprocessableTaskError} (422) before any name is matched. Then the names are matched. Both
 * passes let the event loop turn every {@link GLOB_SLICE_MS} ms, so `/healthz`, results and
 * deadlines keep being served. Throws `HostPatternError` (field `hosts`, 400) for an unreadable
 * glob, before looking at any host.
 */
export async function matchGlobs(
  globs: readonly string[],
  hosts: readonly string[],
  budget: number = GLOB_MATCH_BUDGET,
): Promise<Map<string, string[]>> {
  const compiled = globs.map((g) => compileHostPattern(g, 'hosts'));
  const unique = [...new Set(hosts)];
  const pairs = compiled.length * unique.length;
  const glob = (i: number): HostMatcher => compiled[Math.floor(i / unique.length)];
  let cost = 0;
  await sliced(pairs, (i) => {
    cost += glob(i).cost(unique[i % unique.length]);
  });
  if (cost > budget)
    throw new UnprocessableTaskError(
      `matching the globs in hosts against the ${unique.length} known hosts would take ${cost} steps, more than the ${budget} one request may take; start globs with literal text (web*, not *web*), use fewer of them, or use names, ranges or labels`,
    );
  const matched = compiled.map((): string[] => []);
  await sliced(pairs, (i) => {
    const g = Math.floor(i / unique.length);
    const h = unique[i % unique.length];
    if (compiled[g].test(h)) matched[g].push(h);
  });
  return new Map(compiled.map((g, i) => [g.pattern, matched[i].sort(naturalCompare)]));
}
