import { naturalCompare } from './hostlist.fold';
import {
  expandHostPattern,
  HostPatternError,
  isGlob,
  MAX_HOST_PATTERN_EXPANSION,
  parsePattern,
  rangeValues,
  sizeOf,
} from './hostlist.ranges';

/**
 * Host globs: any `*` or `?` (`web*`, `db?`, `web[01-20]*`) is matched against the hosts the caller
 * knows (from presence) and never names a host that is not known; and the splitting of a typed list.
 */

const GLOB_TEXT_CHARS = /^[A-Za-z0-9._*?-]*$/;

/**
 * The anchored regular expression for a glob: `*` any run of host-id characters, `?` exactly one,
 * `[01-20]` one of the range's values (`web[01-20]*`). Throws {@link HostPatternError} (naming
 * `field` if given) on bad syntax.
 */
export function globToRegExp(pattern: string, max = MAX_HOST_PATTERN_EXPANSION, field?: string): RegExp {
  const parts = parsePattern(pattern, field).map((s) => {
    if (s.kind === 'set') {
      if (sizeOf([s]) > max) throw new HostPatternError(pattern, `a bracket holds more than ${max} values`, field);
      return `(?:${s.ranges.flatMap((r) => [...rangeValues(r)]).join('|')})`;
    }
    if (!GLOB_TEXT_CHARS.test(s.text)) {
      const bad = [...s.text].find((c) => !GLOB_TEXT_CHARS.test(c));
      throw new HostPatternError(
        pattern,
        `${JSON.stringify(bad)} cannot be part of a host id or a glob (letters, digits, ".", "_", "-", "*", "?")`,
        field,
      );
    }
    return s.text.replace(/\./g, '\\.').replace(/\*/g, '[A-Za-z0-9._-]*').replace(/\?/g, '[A-Za-z0-9._-]');
  });
  return new RegExp(`^${parts.join('')}$`);
}

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
  const re = globToRegExp(pattern, max, field);
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
