import { ConfigError } from '@warren/runtime';

/** Label keys: like host ids, plus `/` for prefixed keys such as `k8s.io/zone`. */
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

/**
 * Parses `k=v,k2=v2` (empty = none). Throws {@link ConfigError} naming the bad pair; the config
 * loader puts the setting's names in front.
 */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY.test(key))
      throw new ConfigError(`expects k=v pairs separated by commas, got ${JSON.stringify(pair)}`);
    if (value.length > 256) throw new ConfigError(`label ${key} is longer than 256 characters`);
    if (key in labels) throw new ConfigError(`sets label ${key} twice`);
    labels[key] = value;
  }
  if (Object.keys(labels).length > 64) throw new ConfigError('has more than 64 labels');
  return labels;
}
