import { labelSet, parseLabelList, parseLabelPair } from '@warren/api';

/**
 * Adds one `--label k=v` (or several, comma separated: `--label role=web,zone=eu`) to the earlier
 * ones; every pair must hold on a host (AND). The pairs follow the one label rule of `@warren/api`
 * (a pair given twice counts once; a key given two values is refused: no host has both). Throws an
 * Error naming the bad pair.
 */
export function collectLabels(text: string, previous: string[] | undefined): string[] {
  const added = Object.entries(parseLabelList(text));
  if (added.length === 0) throw new Error('expected key=value');
  const all = labelSet([...(previous ?? []).map(parseLabelPair), ...added]);
  return Object.entries(all).map(([k, v]) => `${k}=${v}`);
}
