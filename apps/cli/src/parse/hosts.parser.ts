import { splitHostPatterns } from '@warren/api';

/**
 * Flattens `--hosts` values given space- or comma-separated (`--hosts a b`, `--hosts a,b`),
 * dropping empty pieces and repeats, keeping first-seen order. Commas inside a range
 * (`web[1-3,7]`) belong to the range. Patterns (globs, ranges) are resolved by the controller.
 */
export function parseHostList(values: readonly string[]): string[] {
  const hosts = values
    .flatMap((v) => splitHostPatterns(v))
    .map((h) => h.trim())
    .filter((h) => h !== '');
  return [...new Set(hosts)];
}
