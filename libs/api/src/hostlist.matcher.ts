import { HostPatternError, type NumRange, parsePattern } from './hostlist.ranges';

/**
 * A host pattern compiled for matching (`web*`, `db?`, `web[01-20]*`, `db[1-3]`, `bastion`):
 * {@link HostMatcher.test} takes time proportional to the name's length times the pattern's,
 * whatever both are. A RegExp built from a glob backtracks: a dozen `*` followed by a letter no
 * name has took seconds on one 40-character name and blocked the controller's event loop.
 */
export interface HostMatcher {
  /** the pattern as written */
  readonly pattern: string;
  /** True when `host` is one of the names the pattern stands for (the whole name, case-sensitive). */
  test(host: string): boolean;
  /**
   * How many steps {@link HostMatcher.test} may take on `host`, found without matching: 1 when the
   * name's length or the pattern's literal start and end rule it out; else, for a pattern whose
   * middle (between its literal start and end) holds only literals and `*`, the name's length + 1
   * (each literal run is searched for once); else (characters of the name's middle + 1) × the
   * middle's steps, a bracket counting one per digit its values may have. Lets a caller refuse a
   * batch of tests whose total is too large before running any.
   */
  cost(host: string): number;
}

const HOST_CHARS = /^[A-Za-z0-9._-]*$/;
const GLOB_TEXT_CHARS = /^[A-Za-z0-9._*?-]*$/;

/** Most digits a bracket's bound may have in a pattern that is matched (a glob, a token's pattern). */
export const MAX_MATCHED_BRACKET_DIGITS = 12;

/** Most brackets one matched pattern may hold: each costs up to {@link MAX_MATCHED_BRACKET_DIGITS} steps per character. */
export const MAX_MATCHED_BRACKETS = 8;

/**
 * A bracket, read for matching: `byLength[k]` holds the values a run of exactly `k` digits may
 * have (`07` is a 2-digit 7), as sorted, disjoint `[from, to]` pairs; `maxLength` is the longest k.
 */
interface DigitSet {
  kind: 'set';
  byLength: number[][];
  minLength: number;
  maxLength: number;
}

/** One step of a pattern: a literal character, `?`, a run of `*`, or a bracket of numbers. */
type Token = { kind: 'char'; char: string } | { kind: 'one' } | { kind: 'star' } | DigitSet;

/**
 * The values of `k` digits that `r` admits as written: with `k` its width (`01-120`, k = 2), every
 * value of at most `k` digits, zero-padded; otherwise the values of exactly `k` digits unpadded
 * (`120` with k = 3, or `7` of `1-10` with k = 1). Null when none.
 */
function valuesOfLength(r: NumRange, k: number): [number, number] | null {
  if (r.width > k) return null;
  const lo = r.width === k || k === 1 ? 0 : 10 ** (k - 1);
  const from = Math.max(r.from, lo);
  const to = Math.min(r.to, 10 ** k - 1);
  return from <= to ? [from, to] : null;
}

function setToken(ranges: NumRange[], fail: (detail: string) => HostPatternError): DigitSet {
  const longest = Math.max(...ranges.map((r) => Math.max(r.width, String(r.to).length)));
  if (longest > MAX_MATCHED_BRACKET_DIGITS)
    throw fail(
      `a bracket bound has ${longest} digits; a glob's brackets hold numbers of at most ${MAX_MATCHED_BRACKET_DIGITS} digits`,
    );
  const byLength: number[][] = [[]];
  let minLength = 0;
  for (let k = 1; k <= longest; k++) {
    const pairs = ranges
      .map((r) => valuesOfLength(r, k))
      .filter((p): p is [number, number] => p !== null)
      .sort((a, b) => a[0] - b[0]);
    const merged: number[] = [];
    for (const [from, to] of pairs) {
      const last = merged.length - 1;
      if (merged.length > 0 && from <= merged[last] + 1) merged[last] = Math.max(merged[last], to);
      else merged.push(from, to);
    }
    if (merged.length > 0 && minLength === 0) minLength = k;
    byLength.push(merged);
  }
  return { kind: 'set', byLength, minLength, maxLength: longest };
}

/** True when `n` lies in one of the sorted `[from, to]` pairs of `pairs` (a binary search). */
function inPairs(pairs: number[], n: number): boolean {
  let lo = 0;
  let hi = pairs.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (n < pairs[2 * mid]) hi = mid - 1;
    else if (n > pairs[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}

function tokenize(pattern: string, field?: string): Token[] {
  const fail = (detail: string) => new HostPatternError(pattern, detail, field);
  const segments = parsePattern(pattern, field);
  const brackets = segments.filter((s) => s.kind === 'set').length;
  if (brackets > MAX_MATCHED_BRACKETS) throw fail(`${brackets} brackets; a glob holds at most ${MAX_MATCHED_BRACKETS}`);
  const tokens: Token[] = [];
  for (const s of segments) {
    if (s.kind === 'set') {
      tokens.push(setToken(s.ranges, fail));
      continue;
    }
    if (!GLOB_TEXT_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !GLOB_TEXT_CHARS.test(c));
      throw fail(
        `${JSON.stringify(bad)} cannot be part of a host id or a glob (letters, digits, ".", "_", "-", "*", "?")`,
      );
    }
    for (const char of s.text) {
      if (char === '*') {
        if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' }); // `**` is `*`
      } else tokens.push(char === '?' ? { kind: 'one' } : { kind: 'char', char });
    }
  }
  return tokens;
}

/** Fewest and most characters a name matching `tokens` has (`Infinity` with a `*`). */
function lengthBounds(tokens: Token[]): [number, number] {
  let min = 0;
  let max = 0;
  for (const t of tokens) {
    if (t.kind === 'star') max = Infinity;
    else if (t.kind === 'set') {
      min += t.minLength;
      max += t.maxLength;
    } else {
      min++;
      max++;
    }
  }
  return [min, max];
}

/** Scratch rows for {@link matches}, grown as needed and reused: matching allocates nothing per name. */
let scratch = new Uint8Array(4096);

/**
 * Runs the pattern over `host` as a set of positions, one row per character read: row `i` holds
 * the pattern steps reachable after the first `i` characters. Each (character, step) pair is looked
 * at once; a bracket reads the digits ahead once, as a number growing digit by digit, and looks the
 * number up among its values of that many digits: at most {@link MAX_MATCHED_BRACKET_DIGITS} steps.
 */
function matches(tokens: Token[], host: string, jumps: boolean): boolean {
  const n = host.length;
  const m = tokens.length;
  const w = m + 1;
  if (scratch.length < (n + 1) * w) scratch = new Uint8Array((n + 1) * w * 2);
  const reach = scratch;
  reach.fill(0, 0, (n + 1) * w);
  reach[0] = 1;
  for (let i = 0; i <= n; i++) {
    const row = i * w;
    let alive = false;
    for (let p = 0; p < m; p++) {
      if (!reach[row + p]) continue;
      alive = true;
      const t = tokens[p];
      if (t.kind === 'star') {
        reach[row + p + 1] = 1; // `*` may match nothing
        if (i < n) reach[row + w + p] = 1;
      } else if (i === n) continue;
      else if (t.kind === 'one' || (t.kind === 'char' && host[i] === t.char)) reach[row + w + p + 1] = 1;
      else if (t.kind === 'set') {
        let value = 0;
        const last = Math.min(n - i, t.maxLength);
        for (let k = 1; k <= last; k++) {
          const d = host.charCodeAt(i + k - 1) - 48;
          if (d < 0 || d > 9) break;
          value = value * 10 + d;
          if (k >= t.minLength && inPairs(t.byLength[k], value)) reach[(i + k) * w + p + 1] = 1;
        }
      }
    }
    // Nothing reachable here, and no bracket (`jumps`) can have reached further ahead: no match.
    if (!alive && !reach[row + m] && !jumps) return false;
  }
  return reach[n * w + m] === 1;
}

/** The literal characters a match must start and end with (`web*.com` → `web`, `.com`). */
function literalEnds(tokens: Token[]): [string, string] {
  const literal = (t: Token) => (t.kind === 'char' ? t.char : null);
  let prefix = '';
  for (const t of tokens) {
    const c = literal(t);
    if (c === null) break;
    prefix += c;
  }
  let suffix = '';
  for (let i = tokens.length - 1; i >= 0 && prefix.length < tokens.length; i--) {
    const c = literal(tokens[i]);
    if (c === null) break;
    suffix = c + suffix;
  }
  return [prefix, suffix];
}

/**
 * Compiles a host pattern (a name, a range or a glob) into a {@link HostMatcher}: `*` is any run of
 * host-id characters, `?` exactly one, `[01-20]` one of the range's values as written. Throws
 * {@link HostPatternError} (naming `field` if given) on bad syntax. Nothing is expanded: a bracket
 * of a million values costs no more than one of two.
 */
export function compileHostPattern(pattern: string, field?: string): HostMatcher {
  const tokens = tokenize(pattern, field);
  const [min, max] = lengthBounds(tokens);
  const [prefix, suffix] = literalEnds(tokens);
  // The literal start and end are checked by `possible`; only the part between them is matched.
  const middle = tokens.slice(prefix.length, tokens.length - suffix.length);
  const inner = (host: string) => host.slice(prefix.length, host.length - suffix.length);
  const jumps = middle.some((t) => t.kind === 'set');
  const steps = middle.reduce((sum, t) => sum + (t.kind === 'set' ? t.maxLength : 1), 0);
  const possible = (host: string) =>
    host.length >= min && host.length <= max && host.startsWith(prefix) && host.endsWith(suffix);
  const segments = starSegments(middle);
  if (segments)
    // Only literals and `*` between the ends (`web-*-eu*`): each literal run found in turn, leftmost.
    return {
      pattern,
      test: (host) => possible(host) && HOST_CHARS.test(host) && findInOrder(segments, inner(host)),
      cost: (host) => (possible(host) ? host.length + 1 : 1),
    };
  return {
    pattern,
    test: (host) => possible(host) && HOST_CHARS.test(host) && matches(middle, inner(host), jumps),
    cost: (host) => (possible(host) ? (host.length - prefix.length - suffix.length + 1) * steps : 1),
  };
}

/**
 * The literal runs between the stars of `middle` when it holds only literal characters and stars
 * and starts and ends with a star (what is left of `web*-eu-*.com` once its ends are taken off:
 * `*-eu-*` → `['-eu-']`); an empty list for an empty middle or a lone `*`. Null otherwise.
 */
function starSegments(middle: Token[]): string[] | null {
  if (middle.length === 0) return [];
  if (middle[0].kind !== 'star' || middle[middle.length - 1].kind !== 'star') return null;
  const runs: string[] = [];
  let run = '';
  for (const t of middle) {
    if (t.kind === 'star') {
      if (run) runs.push(run);
      run = '';
    } else if (t.kind === 'char') run += t.char;
    else return null;
  }
  return runs;
}

/**
 * True when `text` is matched by `*run1*run2*…*`: each run found at its leftmost place after the
 * previous one, which is right when stars stand on both sides. No runs: true (a lone `*`; an empty
 * middle, whose `text` the caller's length bounds made empty).
 */
function findInOrder(runs: string[], text: string): boolean {
  let from = 0;
  for (const run of runs) {
    const at = text.indexOf(run, from);
    if (at < 0) return false;
    from = at + run.length;
  }
  return true;
}
