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
}

const HOST_CHARS = /^[A-Za-z0-9._-]*$/;
const GLOB_TEXT_CHARS = /^[A-Za-z0-9._*?-]*$/;

/** One step of a pattern: a literal character, `?`, a run of `*`, or a bracket of numbers. */
type Token =
  | { kind: 'char'; char: string }
  | { kind: 'one' }
  | { kind: 'star' }
  | { kind: 'set'; ranges: NumRange[]; lengths: number[] };

/** How many digits the values of `r` have, shortest and longest (`01-120` → 2..3). */
function digitLengths(r: NumRange): [number, number] {
  return [Math.max(r.width, String(r.from).length), Math.max(r.width, String(r.to).length)];
}

function setToken(ranges: NumRange[]): Token {
  const lengths = new Set<number>();
  for (const r of ranges) {
    const [lo, hi] = digitLengths(r);
    for (let k = lo; k <= hi; k++) lengths.add(k);
  }
  return { kind: 'set', ranges, lengths: [...lengths].sort((a, b) => a - b) };
}

/**
 * True when the `k` digits at `at` in `host` are a value of one of `ranges` as written (`07` is in
 * `01-10`, `7` is not), read as a number without building a string.
 */
function inSet(ranges: NumRange[], host: string, at: number, k: number): boolean {
  let n = 0;
  let zeros = 0; // leading zeros
  for (let j = 0; j < k; j++) {
    const d = host.charCodeAt(at + j) - 48;
    if (n === 0 && d === 0) zeros++;
    n = n * 10 + d;
  }
  const written = n === 0 ? 1 : k - zeros; // digits of the number without padding
  return ranges.some((r) => n >= r.from && n <= r.to && k === Math.max(r.width, written));
}

function tokenize(pattern: string, field?: string): Token[] {
  const tokens: Token[] = [];
  for (const s of parsePattern(pattern, field)) {
    if (s.kind === 'set') {
      tokens.push(setToken(s.ranges));
      continue;
    }
    if (!GLOB_TEXT_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !GLOB_TEXT_CHARS.test(c));
      throw new HostPatternError(
        pattern,
        `${JSON.stringify(bad)} cannot be part of a host id or a glob (letters, digits, ".", "_", "-", "*", "?")`,
        field,
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
      min += t.lengths[0];
      max += t.lengths[t.lengths.length - 1];
    } else {
      min++;
      max++;
    }
  }
  return [min, max];
}

/** Scratch rows for {@link matches}, grown as needed and reused: matching allocates nothing per name. */
let scratch = new Uint8Array(4096);
let digitsScratch = new Uint8Array(256);

/**
 * Runs the pattern over `host` as a set of positions, one row per character read: row `i` holds
 * the pattern steps reachable after the first `i` characters. Each (character, step) pair is looked
 * at once, a bracket trying only the digit counts its values have.
 */
function matches(tokens: Token[], host: string, jumps: boolean): boolean {
  const n = host.length;
  const m = tokens.length;
  const w = m + 1;
  if (scratch.length < (n + 1) * w) scratch = new Uint8Array((n + 1) * w * 2);
  if (digitsScratch.length < n + 1) digitsScratch = new Uint8Array((n + 1) * 2);
  const reach = scratch;
  reach.fill(0, 0, (n + 1) * w);
  // digitsFrom[i]: how many digits follow from position i (capped: no bracket value is longer)
  const digitsFrom = digitsScratch;
  digitsFrom[n] = 0;
  for (let i = n - 1; i >= 0; i--) {
    const c = host.charCodeAt(i);
    digitsFrom[i] = c >= 48 && c <= 57 ? Math.min(255, digitsFrom[i + 1] + 1) : 0;
  }
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
        for (const k of t.lengths) {
          if (k > digitsFrom[i]) break;
          if (inSet(t.ranges, host, i, k)) reach[(i + k) * w + p + 1] = 1;
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
  const jumps = tokens.some((t) => t.kind === 'set');
  return {
    pattern,
    test: (host) =>
      host.length >= min &&
      host.length <= max &&
      host.startsWith(prefix) &&
      host.endsWith(suffix) &&
      HOST_CHARS.test(host) &&
      matches(tokens, host, jumps),
  };
}
