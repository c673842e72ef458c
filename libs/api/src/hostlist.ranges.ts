import { HOST_ID_PATTERN } from '@warren/protocol';

/**
 * Host ranges as operators write them (pdsh / ClusterShell style): `web[01-20]`, `web[1-3,7,10-11]`,
 * `r[1-2]n[1-4]` expand to names whether or not an agent has them; a bound written with a leading
 * zero (`01`) pads every name to its width. Brackets always hold numbers: `[abc]` is an error, not
 * a character class. Globs are in `hostlist.globs.ts`, folding and natural order in `hostlist.fold.ts`.
 */

/** Most names one pattern may expand to, unless the caller says otherwise. */
export const MAX_HOST_PATTERN_EXPANSION = 10_000;

/** Digit runs longer than this are literal text: beyond it numbers lose precision. */
export const MAX_NUMBER_DIGITS = 15;

/**
 * A host pattern that cannot be read, or that expands to too many or to invalid names. The message
 * is `host pattern "<pattern>": <what is wrong>`, prefixed with `<field>: ` when the caller named the
 * input it came from (`hosts: host pattern "web[": …`), so that it can be answered as it is (400).
 */
export class HostPatternError extends Error {
  override readonly name = 'HostPatternError';
  constructor(
    readonly pattern: string,
    detail: string,
    /** the input the pattern came from (`hosts`), or undefined */
    readonly field?: string,
  ) {
    super(`${field ? `${field}: ` : ''}host pattern ${JSON.stringify(pattern)}: ${detail}`);
  }
}

/** `from..to` inclusive; `width` > 0 pads every value with zeros to that many digits. */
export interface NumRange {
  from: number;
  to: number;
  width: number;
}

/** A pattern, parsed: literal text and bracketed sets of numbers, in order. */
export type Segment = { kind: 'text'; text: string } | { kind: 'set'; ranges: NumRange[] };

/** Builds the error for the pattern being read, naming its field. */
type Fail = (detail: string) => HostPatternError;

const GLOB_CHARS = /[*?]/;
const HOST_CHARS = /^[A-Za-z0-9._-]*$/;

/** True when `pattern` has `*` or `?`: it selects among known hosts rather than naming hosts. */
export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

function parseNumber(fail: Fail, digits: string): number {
  if (digits.length > MAX_NUMBER_DIGITS) throw fail(`number ${digits} has more than ${MAX_NUMBER_DIGITS} digits`);
  return Number(digits);
}

function parseBracket(fail: Fail, body: string): NumRange[] {
  if (body.trim() === '') throw fail('empty brackets []');
  return body.split(',').map((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m)
      throw fail(`[${body}]: expected numbers or ranges like 1-5 separated by commas, found ${JSON.stringify(item)}`);
    const from = parseNumber(fail, m[1]);
    const to = m[2] === undefined ? from : parseNumber(fail, m[2]);
    if (from > to) throw fail(`range ${m[1]}-${m[2]} runs backwards`);
    const width = m[1].length > 1 && m[1].startsWith('0') ? m[1].length : 0;
    return { from, to, width };
  });
}

/** The segments of a range or glob pattern. Throws {@link HostPatternError} (naming `field`) on bad syntax. */
export function parsePattern(pattern: string, field?: string): Segment[] {
  const fail: Fail = (detail) => new HostPatternError(pattern, detail, field);
  const segments: Segment[] = [];
  let i = 0;
  while (i < pattern.length) {
    const open = pattern.indexOf('[', i);
    const text = pattern.slice(i, open === -1 ? undefined : open);
    if (text.includes(']')) throw fail(`"]" without a "[" before it`);
    if (text) segments.push({ kind: 'text', text });
    if (open === -1) break;
    const close = pattern.indexOf(']', open);
    if (close === -1) throw fail(`"[" at position ${open + 1} is never closed`);
    const body = pattern.slice(open + 1, close);
    if (body.includes('[')) throw fail('brackets cannot be nested');
    segments.push({ kind: 'set', ranges: parseBracket(fail, body) });
    i = close + 1;
  }
  if (segments.length === 0) throw fail('empty pattern');
  return segments;
}

/** The values of one range as written: `01-03` → `01 02 03`. */
export function* rangeValues(r: NumRange): Generator<string> {
  for (let n = r.from; n <= r.to; n++) yield String(n).padStart(r.width, '0');
}

/** How many names the segments stand for. */
export function sizeOf(segments: Segment[]): number {
  return segments.reduce(
    (total, s) => (s.kind === 'text' ? total : total * s.ranges.reduce((sum, r) => sum + r.to - r.from + 1, 0)),
    1,
  );
}

/**
 * How many names `pattern` (a name or a range, not a glob) stands for, counted with repeats and
 * without building one (`web[01-20]` → 20; `Infinity` past what a number holds). Throws
 * {@link HostPatternError} (naming `field`) on bad syntax. Lets a caller stop a list of patterns
 * the moment their running total passes its limit, before expanding any.
 */
export function hostPatternSize(pattern: string, field?: string): number {
  return sizeOf(parsePattern(pattern, field));
}

/**
 * The names a range pattern stands for, in order, without repeats: `web[01-03]` →
 * `web01 web02 web03`; `web[1-3,7]` → 4 names; `r[1-2]n[1-2]` → `r1n1 r1n2 r2n1 r2n2`.
 * A pattern without brackets is the one name it spells. Throws {@link HostPatternError} (naming
 * `field`, the input the pattern came from, if given) on bad syntax, a glob, an invalid host id,
 * or more than `max` names.
 */
export function expandHostPattern(pattern: string, max = MAX_HOST_PATTERN_EXPANSION, field?: string): string[] {
  const fail: Fail = (detail) => new HostPatternError(pattern, detail, field);
  if (isGlob(pattern)) throw fail('is a glob: match it against known hosts with matchHosts()');
  const segments = parsePattern(pattern, field);
  for (const s of segments) {
    if (s.kind === 'text' && !HOST_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !HOST_CHARS.test(c));
      throw fail(`${JSON.stringify(bad)} cannot be part of a host id (letters, digits, ".", "_", "-")`);
    }
  }
  const size = sizeOf(segments);
  if (size > max) throw fail(`expands to ${size} names, more than the limit of ${max}`);
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
    throw fail(
      `${JSON.stringify(invalid)} is not a valid host id (1-63 of letters, digits, ".", "_", "-", starting with a letter or digit)`,
    );
  return unique;
}
