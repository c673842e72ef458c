import { posix } from 'node:path';
import { PolicyError } from './policy.error';

/** One compiled entry of a policy's `files.write` or `files.read` list. */
export interface PathGlob {
  /** the entry as written in the policy file, quoted in refusals */
  source: string;
  /** true when the glob matches the whole of `path` (absolute, normalised) */
  test(path: string): boolean;
}

/**
 * Compiles a path glob: an absolute path in which `*` matches any run of characters within one
 * segment (never a `/`), `?` one such character, and a whole segment `**` any number of segments
 * (zero or more; at the end, one or more), so `/srv/app/**` matches `/srv/app/a` and
 * `/srv/app/x/y/z` (not `/srv/app`), and `/**` every path.
 * Every other character is literal. Throws {@link PolicyError} with the problem (no field name).
 */
export function compilePathGlob(source: string): PathGlob {
  if (!source.startsWith('/')) throw new PolicyError(`${JSON.stringify(source)} must be an absolute path glob`);
  if (source.split('/').some((s) => s === '..' || s === '.'))
    throw new PolicyError(`${JSON.stringify(source)} must not hold . or .. segments`);
  const segments = source.split('/').slice(1);
  const parts = segments.map((seg) => {
    if (seg === '**') return null;
    if (seg.includes('**')) throw new PolicyError(`${JSON.stringify(source)}: ** must be a whole path segment`);
    return seg
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]');
  });
  // A `/**` segment is "any number of segments"; the last one at least one, so `/srv/app/**` is
  // what lies under /srv/app, not /srv/app itself.
  let body = '';
  parts.forEach((p, i) => {
    body += p !== null ? `/${p}` : i === parts.length - 1 ? '(?:/[^/]+)+' : '(?:/[^/]+)*';
  });
  const re = new RegExp(`^${body}$`);
  return { source, test: (path) => re.test(path) };
}

/**
 * `path` as the policy compares it: absolute and normalised (no `.`, `..`, doubled or trailing
 * slash); null when it is not absolute or climbs with `..` (the codec refuses those already).
 */
export function normalisePath(path: string): string | null {
  if (!path.startsWith('/') || path.split('/').includes('..')) return null;
  const n = posix.normalize(path);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
