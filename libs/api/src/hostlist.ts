import { HOST_ID_PATTERN } from '@warren/protocol';

/**
 * Host lists as operators write them (pdsh / ClusterShell style), shared by the controller and the CLI:
 *
 * - a **range** `web[01-20]`, `web[1-3,7,10-11]`, `r[1-2]n[1-4]` expands to names whether or not an
 *   agent has them; a bound written with a leading zero (`01`) pads every name to its width;
 * - a **glob** (any `*` or `?`, e.g. `web*`, `db?`, `web[01-20]*`) is matched against the hosts
 *   the caller knows (from presence) and never names a host that is not known;
 * - {@link foldHosts} writes a set of names back in the short form (`db1,web[01-40]`).
 *
 * Brackets always hold numbers: `[abc]` is an error, not a character class.
 */

/** Most names one pattern may expand to, unless the caller says otherwise. */
export const MAX_HOST_PATTERN_EXPANSION = 10_000;

/** Digit runs longer than this are literal text: beyond it numbers lose precision. */
const MAX_NUMBER_DIGITS = 15;

/** A host pattern that cannot be read, or that expands to too many or to invalid names. */
export class HostPatternError extends Error {
  override readonly name = 'HostPatternError';
  constructor(
    readonly pattern: string,
    detail: string,
  ) {
    super(`host pattern ${JSON.stringify(pattern)}: ${detail}`);
  }
}

/** `from..to` inclusive; `width` > 0 pads every value with zeros to that many digits. */
interface NumRange {
  from: number;
  to: number;
  width: number;
}

type Segment = { kind: 'text'; text: string } | { kind: 'set'; ranges: NumRange[] };

const GLOB_CHARS = /[*?]/;
const HOST_CHARS = /^[A-Za-z0-9._-]*$/;
const GLOB_TEXT_CHARS = /^[A-Za-z0-9._*?-]*$/;

/** True when `pattern` has `*` or `?`: it selects among known hosts rather than naming hosts. */
export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

function parseNumber(pattern: string, digits: string): number {
  if (digits.length > MAX_NUMBER_DIGITS)
    throw new HostPatternError(pattern, `number ${digits} has more than ${MAX_NUMBER_DIGITS} digits`);
  return Number(digits);
}

function parseBracket(pattern: string, body: string): NumRange[] {
  if (body.trim() === '') throw new HostPatternError(pattern, 'empty brackets []');
  return body.split(',').map((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m)
      throw new HostPatternError(
        pattern,
        `[${body}]: expected numbers or ranges like 1-5 separated by commas, found ${JSON.stringify(item)}`,
      );
    const from = parseNumber(pattern, m[1]);
    const to = m[2] === undefined ? from : parseNumber(pattern, m[2]);
    if (from > to) throw new HostPatternError(pattern, `range ${m[1]}-${m[2]} runs backwards`);
    const width = m[1].length > 1 && m[1].startsWith('0') ? m[1].length : 0;
    return { from, to, width };
  });
}

function parsePattern(pattern: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < pattern.length) {
    const open = pattern.indexOf('[', i);
    const text = pattern.slice(i, open === -1 ? undefined : open);
    if (text.includes(']')) throw new HostPatternError(pattern, `"]" without a "[" before it`);
    if (text) segments.push({ kind: 'text', text });
    if (open === -1) break;
    const close = pattern.indexOf(']', open);
    if (close === -1) throw new HostPatternError(pattern, `"[" at position ${open + 1} is never closed`);
    const body = pattern.slice(open + 1, close);
    if (body.includes('[')) throw new HostPatternError(pattern, 'brackets cannot be nested');
    segments.push({ kind: 'set', ranges: parseBracket(pattern, body) });
    i = close + 1;
  }
  if (segments.length === 0) throw new HostPatternError(pattern, 'empty pattern');
  return segments;
}

function* rangeValues(r: NumRange): Generator<string> {
  for (let n = r.from; n <= r.to; n++) yield String(n).padStart(r.width, '0');
}

function sizeOf(segments: Segment[]): number {
  return segments.reduce(
    (total, s) => (s.kind === 'text' ? total : total * s.ranges.reduce((sum, r) => sum + r.to - r.from + 1, 0)),
    1,
  );
}

/**
 * The names a range pattern stands for, in order, without repeats: `web[01-03]` →
 * `web01 web02 web03`; `web[1-3,7]` → 4 names; `r[1-2]n[1-2]` → `r1n1 r1n2 r2n1 r2n2`.
 * A pattern without brackets is the one name it spells. Throws {@link HostPatternError} on bad
 * syntax, a glob, an invalid host id, or more than `max` names.
 */
export function expandHostPattern(pattern: string, max = MAX_HOST_PATTERN_EXPANSION): string[] {
  if (isGlob(pattern)) throw new HostPatternError(pattern, 'is a glob: match it against known hosts with matchHosts()');
  const segments = parsePattern(pattern);
  for (const s of segments) {
    if (s.kind === 'text' && !HOST_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !HOST_CHARS.test(c));
      throw new HostPatternError(
        pattern,
        `${JSON.stringify(bad)} cannot be part of a host id (letters, digits, ".", "_", "-")`,
      );
    }
  }
  const size = sizeOf(segments);
  if (size > max) throw new HostPatternError(pattern, `expands to ${size} names, more than the limit of ${max}`);
  let names = [''];
  for (const s of segments) {
    if (s.kind === 'text') names = names.map((n) => n + s.text);
    else {
      const values = s.ranges.flatMap((r) => [...rangeValues(r)]);
      names = names.flatMap((n) => values.map((v) => n + v));
    }
  }
  const unique = [...new Set(names)];
  const invalid = unique.find((n) => !HOST_ID_PATTERN.test(n));
  if (invalid !== undefined)
    throw new HostPatternError(
      pattern,
      `${JSON.stringify(invalid)} is not a valid host id (1-63 of letters, digits, ".", "_", "-", starting with a letter or digit)`,
    );
  return unique;
}

/**
 * The anchored regular expression for a glob: `*` any run of host-id characters, `?` exactly one,
 * `[01-20]` one of the range's values (`web[01-20]*`). Throws {@link HostPatternError} on bad syntax.
 */
export function globToRegExp(pattern: string, max = MAX_HOST_PATTERN_EXPANSION): RegExp {
  const parts = parsePattern(pattern).map((s) => {
    if (s.kind === 'set') {
      if (sizeOf([s]) > max) throw new HostPatternError(pattern, `a bracket holds more than ${max} values`);
      return `(?:${s.ranges.flatMap((r) => [...rangeValues(r)]).join('|')})`;
    }
    if (!GLOB_TEXT_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !GLOB_TEXT_CHARS.test(c));
      throw new HostPatternError(
        pattern,
        `${JSON.stringify(bad)} cannot be part of a host id or a glob (letters, digits, ".", "_", "-", "*", "?")`,
      );
    }
    return s.text.replace(/\./g, '\\.').replace(/\*/g, '[A-Za-z0-9._-]*').replace(/\?/g, '[A-Za-z0-9._-]');
  });
  return new RegExp(`^${parts.join('')}$`);
}

/**
 * The hosts `pattern` selects: a glob's matches among `knownHosts` (naturally sorted; none is not
 * an error here, the caller decides), or a range's expansion whether known or not.
 */
export function matchHosts(pattern: string, knownHosts: Iterable<string>, max = MAX_HOST_PATTERN_EXPANSION): string[] {
  if (!isGlob(pattern)) return expandHostPattern(pattern, max);
  const re = globToRegExp(pattern, max);
  return [...new Set(knownHosts)].filter((h) => re.test(h)).sort(naturalCompare);
}

/** Splits `web[1-3,7],db1 , db2` at the commas outside brackets: `['web[1-3,7]', 'db1', 'db2']`. */
export function splitHostPatterns(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of text) {
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    if (c === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

const CHUNKS = /\d+|\D+/g;

/**
 * Orders host names as a person expects: digit runs by value (`web2` before `web10`), the rest
 * by code point; fewer leading zeros first when values tie (`web7` before `web07`). A total order.
 */
export function naturalCompare(a: string, b: string): number {
  const xs = a.match(CHUNKS) ?? [];
  const ys = b.match(CHUNKS) ?? [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === y) continue;
    const xDigits = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57;
    const yDigits = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57;
    if (xDigits && yDigits) {
      const xv = x.replace(/^0+(?=\d)/, '');
      const yv = y.replace(/^0+(?=\d)/, '');
      if (xv.length !== yv.length) return xv.length - yv.length;
      if (xv !== yv) return xv < yv ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return xs.length - ys.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** One digit run of a name, or a set of them after folding: digits as written → value. */
type NumSet = Map<string, number>;
type Token = string | NumSet;

/** A product of tokens (literal text × sets of digit runs) standing for one or more names. */
interface Folded {
  tokens: Token[];
  /** its first name in natural order, to order the folded list */
  first: string;
}

function tokenize(host: string): Token[] {
  return (host.match(CHUNKS) ?? []).map((c) =>
    /^\d/.test(c) && c.length <= MAX_NUMBER_DIGITS ? new Map([[c, Number(c)]]) : c,
  );
}

const isPadded = (digits: string) => digits.length > 1 && digits.startsWith('0');

/**
 * `07` or `[1-3,07,10-12]`. Each run keeps one zero-padding width so that it expands back to
 * exactly the digits it came from: `08 09 10` fold to `08-10` (10 is 10 at width 2), `9 10` to `9-10`.
 */
function renderSet(set: NumSet): string {
  const items = [...set].sort(([s1, n1], [s2, n2]) => n1 - n2 || s1.length - s2.length);
  if (items.length === 1) return items[0][0];
  const paddedWidths = new Set(items.filter(([s]) => isPadded(s)).map(([s]) => s.length));
  const classes = new Map<number, number[]>();
  for (const [s, n] of items) {
    const width = isPadded(s) || paddedWidths.has(s.length) ? s.length : 0;
    const values = classes.get(width);
    if (values) values.push(n);
    else classes.set(width, [n]);
  }
  const runs: { from: number; text: string }[] = [];
  for (const [width, values] of classes) {
    const fmt = (n: number) => String(n).padStart(width, '0');
    let start = 0;
    for (let i = 1; i <= values.length; i++) {
      if (i < values.length && values[i] === values[i - 1] + 1) continue;
      const from = values[start];
      const to = values[i - 1];
      runs.push({ from, text: from === to ? fmt(from) : `${fmt(from)}-${fmt(to)}` });
      start = i;
    }
  }
  return `[${runs
    .sort((a, b) => a.from - b.from || a.text.length - b.text.length)
    .map((r) => r.text)
    .join(',')}]`;
}

const renderToken = (t: Token) => (typeof t === 'string' ? t : renderSet(t));

/** Index of the `d`-th digit-run token counting from the right, or -1. */
function numericIndex(tokens: Token[], d: number): number {
  let seen = -1;
  for (let i = tokens.length - 1; i >= 0; i--) if (typeof tokens[i] !== 'string' && ++seen === d) return i;
  return -1;
}

/**
 * The short form of a set of host names, ClusterShell style: `web01 web02 web03 db1` →
 * `db1,web[01-03]`; `r1n1 r1n2 r2n1 r2n2` → `r[1-2]n[1-2]`. Names are folded only where they
 * differ in one digit run with the same text around it, and every run keeps its zero padding, so
 * `expandHostPattern` of each comma-separated piece gives back exactly the names given.
 * Pieces are in natural order; repeats are dropped.
 */
export function foldHosts(hosts: Iterable<string>): string {
  let entries: Folded[] = [...new Set(hosts)].map((h) => ({ tokens: tokenize(h), first: h }));
  const dims = Math.max(0, ...entries.map((e) => e.tokens.filter((t) => typeof t !== 'string').length));
  // Merging two products that agree everywhere but one digit run is exact; repeat until nothing merges.
  for (let changed = true; changed;) {
    changed = false;
    for (let d = 0; d < dims; d++) {
      const groups = new Map<string, Folded[]>();
      entries.forEach((e, i) => {
        const at = numericIndex(e.tokens, d);
        const key =
          at === -1
            ? `\u0000${i}`
            : e.tokens
                .map((t, j) => (j === at ? '\u0000' : typeof t === 'string' ? `L${t}` : `N${renderSet(t)}`))
                .join('\u0001');
        const group = groups.get(key);
        if (group) group.push(e);
        else groups.set(key, [e]);
      });
      entries = [...groups.values()].map((group) => {
        if (group.length === 1) return group[0];
        changed = true;
        const at = numericIndex(group[0].tokens, d);
        const merged: NumSet = new Map(group.flatMap((e) => [...(e.tokens[at] as NumSet)]));
        const tokens = group[0].tokens.map((t, j) => (j === at ? merged : t));
        return { tokens, first: group.map((e) => e.first).sort(naturalCompare)[0] };
      });
    }
  }
  return entries
    .sort((a, b) => naturalCompare(a.first, b.first))
    .map((e) => e.tokens.map(renderToken).join(''))
    .join(',');
}
