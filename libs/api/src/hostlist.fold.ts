import { MAX_NUMBER_DIGITS } from './hostlist.ranges';

/**
 * Host names in the order a person expects ({@link naturalCompare}) and written back in the short
 * form ClusterShell prints ({@link foldHosts}: `db1,web[01-40]`), which `expandHostPattern` reads.
 */

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
