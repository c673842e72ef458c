import { compileHostPattern, type HostMatcher, HostPatternError } from '@warren/api';

/**
 * The hosts an API token may reach, as patterns: globs (`web*`, `db?`) and ranges (`web[01-20]`,
 * `db[1-3,7]`), the same syntax as `--hosts` (libs/api/src/hostlist.ts). `null` means every host.
 * Matching is linear in the name and the pattern (no backtracking RegExp: a token's pattern is
 * checked on every request it makes).
 */
export class HostScope {
  private readonly matchers: HostMatcher[] | null;

  /** Throws {@link HostPatternError} naming the first pattern that cannot be read. */
  constructor(readonly patterns: readonly string[] | null) {
    this.matchers = patterns === null ? null : patterns.map((p) => compileHostPattern(p));
  }

  /** True when the scope is every host. */
  get unlimited(): boolean {
    return this.matchers === null;
  }

  allows(host: string): boolean {
    return this.matchers === null || this.matchers.some((m) => m.test(host));
  }

  /** The hosts of `hosts` this scope does not reach, in the order given, without repeats. */
  outside(hosts: Iterable<string>): string[] {
    if (this.matchers === null) return [];
    return [...new Set(hosts)].filter((h) => !this.allows(h));
  }
}

/** `web1, web2, … and 7 more`: a denial names hosts without growing with the request. */
export function nameHosts(hosts: string[], max = 20): string {
  return hosts.length <= max ? hosts.join(', ') : `${hosts.slice(0, max).join(', ')} and ${hosts.length - max} more`;
}

/** Most patterns one token may hold; a token is a credential, not an inventory. */
export const MAX_TOKEN_HOST_PATTERNS = 100;

/** chars; the longest pattern a token may hold, as in `POST /v1/tasks` `hosts` */
export const MAX_TOKEN_HOST_PATTERN_LENGTH = 255;

/** Checks patterns given to `token create --hosts`; returns them trimmed, or throws with one line naming the bad one. */
export function validateHostPatterns(patterns: readonly string[]): string[] {
  const trimmed = patterns.map((p) => p.trim()).filter((p) => p !== '');
  if (trimmed.length === 0) throw new HostPatternError('', 'no host pattern given');
  if (trimmed.length > MAX_TOKEN_HOST_PATTERNS)
    throw new HostPatternError(trimmed[0], `at most ${MAX_TOKEN_HOST_PATTERNS} patterns per token`);
  const long = trimmed.find((p) => p.length > MAX_TOKEN_HOST_PATTERN_LENGTH);
  if (long !== undefined)
    throw new HostPatternError(long.slice(0, 40), `longer than ${MAX_TOKEN_HOST_PATTERN_LENGTH} characters`);
  new HostScope(trimmed);
  return trimmed;
}
