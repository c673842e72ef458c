import { globToRegExp, HostPatternError } from '@warren/api';

/**
 * The hosts an API token may reach, as patterns: globs (`web*`, `db?`) and ranges (`web[01-20]`,
 * `db[1-3,7]`), the same syntax as `--hosts` (libs/api/src/hostlist.ts). `null` means every host.
 */
export class HostScope {
  private readonly regexps: RegExp[] | null;

  /** Throws {@link HostPatternError} naming the first pattern that cannot be read. */
  constructor(readonly patterns: readonly string[] | null) {
    this.regexps = patterns === null ? null : patterns.map((p) => globToRegExp(p));
  }

  /** True when the scope is every host. */
  get unlimited(): boolean {
    return this.regexps === null;
  }

  allows(host: string): boolean {
    return this.regexps === null || this.regexps.some((re) => re.test(host));
  }

  /** The hosts of `hosts` this scope does not reach, in the order given, without repeats. */
  outside(hosts: Iterable<string>): string[] {
    if (this.regexps === null) return [];
    return [...new Set(hosts)].filter((h) => !this.allows(h));
  }
}

/** `web1, web2, … and 7 more`: a denial names hosts without growing with the request. */
export function nameHosts(hosts: string[], max = 20): string {
  return hosts.length <= max ? hosts.join(', ') : `${hosts.slice(0, max).join(', ')} and ${hosts.length - max} more`;
}

/** Most patterns one token may hold; a token is a credential, not an inventory. */
export const MAX_TOKEN_HOST_PATTERNS = 100;

/** Checks patterns given to `token create --hosts`; returns them trimmed, or throws with one line naming the bad one. */
export function validateHostPatterns(patterns: readonly string[]): string[] {
  const trimmed = patterns.map((p) => p.trim()).filter((p) => p !== '');
  if (trimmed.length === 0) throw new HostPatternError('', 'no host pattern given');
  if (trimmed.length > MAX_TOKEN_HOST_PATTERNS)
    throw new HostPatternError(trimmed[0], `at most ${MAX_TOKEN_HOST_PATTERNS} patterns per token`);
  new HostScope(trimmed);
  return trimmed;
}
