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

/**
 * Steps from which a request's matching counts as costly (about 10 ms of the costliest steps):
 * costly matchings run one at a time, in arrival order, so that several requests at once cannot
 * spend more than one core between them; cheaper ones never wait.
 */
export const COSTLY_MATCHING_STEPS = 1_000_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One costly matching at a time, first come first served (in the order requests reach the gate,
 * after their cost pass); `running`/`waiting` are read by `/metrics`.
 */
class CostlyMatchingGate {
  running = 0;
  waiting = 0;
  private tail: Promise<void> = Promise.resolve();

  /** Resolves when it is the caller's turn, with the function that ends it (call it once, in `finally`). */
  async enter(): Promise<() => void> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    this.waiting++;
    await before;
    this.waiting--;
    this.running++;
    return () => {
      this.running--;
      release();
    };
  }
}

/** The controller's one gate for costly glob matching (see {@link COSTLY_MATCHING_STEPS}). */
export const costlyMatching = new CostlyMatchingGate();

/**
 * Tells a loop when to let the event loop turn: once {@link GLOB_SLICE_MS} have passed since the
 * last turn, the clock read every {@link TESTS_PER_CLOCK_READ} calls. However costly each step of
 * the loop, nothing else waits long.
 */
class Slices {
  private since = performance.now();
  private calls = 0;

  /** True when the caller should `await turn()` before going on. */
  due(): boolean {
    return ++this.calls % TESTS_PER_CLOCK_READ === 0 && performance.now() - this.since >= GLOB_SLICE_MS;
  }

  async turn(): Promise<void> {
    await nextTurn();
    this.since = performance.now();
  }
}

/**
 * The hosts of `hosts` each glob matches (naturally sorted), keyed by glob. First each glob in turn
 * is read and its cost on the hosts added up (cheap: lengths and literal ends): an unreadable glob
 * throws `HostPatternError` (field `hosts`, 400), and the moment the total passes `budget` steps
 * this throws {@link UnprocessableTaskError} (422), in both cases before any name is matched (a
 * request refused over its budget reads only the globs it takes to pass it). Then the names are
 * matched, a costly request (from {@link COSTLY_MATCHING_STEPS}) once no other costly one is being
 * matched. Both passes let the event loop turn every {@link GLOB_SLICE_MS} ms, so `/healthz`,
 * results and deadlines keep being served. A glob given twice is matched once.
 */
export async function matchGlobs(
  globs: readonly string[],
  hosts: readonly string[],
  budget: number = GLOB_MATCH_BUDGET,
): Promise<Map<string, string[]>> {
  const unique = [...new Set(hosts)];
  const slices = new Slices();
  const compiled: HostMatcher[] = [];
  let cost = 0;
  for (const pattern of new Set(globs)) {
    const glob = compileHostPattern(pattern, 'hosts');
    compiled.push(glob);
    for (const h of unique) {
      cost += glob.cost(h);
      if (cost > budget)
        throw new UnprocessableTaskError(
          `matching the globs in hosts against the ${unique.length} known hosts would take more than the ${budget} steps one request may take; start globs with literal text (web*, not *web*), use fewer of them, or use names, ranges or labels`,
        );
      if (slices.due()) await slices.turn();
    }
    if (slices.due()) await slices.turn();
  }
  const leave = cost >= COSTLY_MATCHING_STEPS ? await costlyMatching.enter() : null;
  try {
    if (leave) await slices.turn(); // the clock restarts after the wait
    const out = new Map<string, string[]>();
    for (const glob of compiled) {
      const matched: string[] = [];
      for (const h of unique) {
        if (glob.test(h)) matched.push(h);
        if (slices.due()) await slices.turn();
      }
      out.set(glob.pattern, matched.sort(naturalCompare));
    }
    return out;
  } finally {
    leave?.();
  }
}
