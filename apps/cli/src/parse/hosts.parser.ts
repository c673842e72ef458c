/**
 * Flattens `--hosts` values given space- or comma-separated (`--hosts a b`, `--hosts a,b`),
 * dropping empty pieces and repeats, keeping first-seen order.
 */
export function parseHostList(values: readonly string[]): string[] {
  const hosts = values.flatMap((v) => v.split(',')).map((h) => h.trim()).filter((h) => h !== '');
  return [...new Set(hosts)];
}
