/**
 * `--concurrency` and `--max-errors`: a count (`5`) or a share of the resolved hosts (`25%`).
 * A count is sent as a number and a share as the string `"25%"`; the controller turns shares
 * into counts once it knows how many hosts the target matched. Throws an Error saying what is wrong.
 */
export function parseLimit(text: string, kind: 'concurrency' | 'max-errors'): number | string {
  const t = text.trim();
  const min = kind === 'concurrency' ? 1 : 0;
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < min || n > 1_000_000)
      throw new Error(
        `expected a whole number of at least ${min} or a percentage like 25%, got ${JSON.stringify(text)}`,
      );
    return n;
  }
  const m = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (!m)
    throw new Error(`expected a whole number (5) or a percentage of the hosts (25%), got ${JSON.stringify(text)}`);
  const pct = Number(m[1]);
  if (pct > 100 || (kind === 'concurrency' && pct === 0))
    throw new Error(
      `a percentage must be ${kind === 'concurrency' ? 'above 0' : 'at least 0'} and at most 100%, got ${text}`,
    );
  return `${m[1]}%`;
}
