import { naturalCompare } from './hostlist.fold';
import { compileHostPattern } from './hostlist.matcher';
import { expandHostPattern, isGlob, MAX_HOST_PATTERN_EXPANSION } from './hostlist.ranges';

/**
 * Host globs: any `*` or `?` (`web*`, `db?`, `web[01-20]*`) is matched against the hosts the caller
 * knows (from presence) and never names a host that is not known; and the splitting of a typed list.
 */

/**
 * The hosts `pattern` selects: a glob's matches among `knownHosts` (naturally sorted; none is not
 * an error here, the caller decides), or a range's expansion whether known or not. Throws
 * {@link HostPatternError} naming `field` if given.
 */
export function matchHosts(
  pattern: string,
  knownHosts: Iterable<string>,
  max = MAX_HOST_PATTERN_EXPANSION,
  field?: string,
): string[] {
  if (!isGlob(pattern)) return expandHostPattern(pattern, max, field);
  const glob = compileHostPattern(pattern, field);
  return [...new Set(knownHosts)].filter((h) => glob.test(h)).sort(naturalCompare);
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
