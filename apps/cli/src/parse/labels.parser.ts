/** Label keys as agents accept them (`--labels` of warren-agent): like host ids, plus `/`. */
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

/**
 * Adds one `--label k=v` (or several, comma separated: `--label role=web,zone=eu`) to the earlier
 * ones; every pair must hold on a host (AND). Throws an Error naming the bad pair.
 */
export function collectLabels(text: string, previous: string[] | undefined): string[] {
  const out = [...(previous ?? [])];
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !LABEL_KEY.test(key))
      throw new Error(`expected key=value (key: letters, digits, . _ / -), got ${JSON.stringify(pair)}`);
    const clash = out.find((p) => p.startsWith(`${key}=`) && p !== pair);
    if (clash)
      throw new Error(
        `${key} is given twice (${clash.slice(key.length + 1)}, ${pair.slice(eq + 1)}); no host can have both`,
      );
    if (!out.includes(pair)) out.push(pair);
  }
  if (out.length === 0) throw new Error('expected key=value');
  return out;
}
