/**
 * Host lists as operators write them (pdsh / ClusterShell style), shared by the controller and the CLI:
 *
 * - a **range** `web[01-20]`, `web[1-3,7,10-11]`, `r[1-2]n[1-4]` expands to names whether or not an
 *   agent has them; a bound written with a leading zero (`01`) pads every name to its width
 *   (`hostlist.ranges.ts`);
 * - a **glob** (any `*` or `?`, e.g. `web*`, `db?`, `web[01-20]*`) is matched against the hosts
 *   the caller knows (from presence) and never names a host that is not known (`hostlist.globs.ts`),
 *   in time linear in each name (`hostlist.matcher.ts`, no backtracking RegExp);
 * - {@link foldHosts} writes a set of names back in the short form (`db1,web[01-40]`), and
 *   {@link naturalCompare} orders names as a person expects (`hostlist.fold.ts`).
 *
 * Brackets always hold numbers: `[abc]` is an error, not a character class. This file is the
 * public face of the three; their helpers stay inside the library.
 */
export {
  expandHostPattern,
  HostPatternError,
  hostPatternSize,
  isGlob,
  MAX_HOST_PATTERN_EXPANSION,
} from './hostlist.ranges';
export { matchHosts, splitHostPatterns } from './hostlist.globs';
export {
  compileHostPattern,
  type HostMatcher,
  MAX_MATCHED_BRACKET_DIGITS,
  MAX_MATCHED_BRACKETS,
} from './hostlist.matcher';
export { foldHosts, naturalCompare } from './hostlist.fold';
