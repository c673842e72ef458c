/** What a duration looks like, for messages that name the field: `--timeout: expected a duration (…)`. */
export const DURATION_FORMAT = '500ms, 30s, 5m, 1h, or a bare number of seconds';

const FACTOR_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * The one duration rule of every input (CLI flags, daemon flags and env, agent policy): a
 * non-negative decimal number and an optional unit, `ms`, `s`, `m` or `h` (none: seconds), blanks
 * allowed around and between (`5 s`). Returns whole ms, or null when the text is none of these.
 *
 * `0` (in any unit) is 0: whether no time at all makes sense is the field's business (a kill grace
 * of 0 kills at once; a timeout of 0 is refused), so callers bound the result. A value that is not
 * zero but rounds to 0 ms (`0.1ms`) is null rather than silently 0, and so is one past
 * `Number.MAX_SAFE_INTEGER` ms.
 */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const ms = Math.round(n * FACTOR_MS[(m[2] ?? 's') as keyof typeof FACTOR_MS]);
  if (!Number.isSafeInteger(ms) || (ms === 0 && n !== 0)) return null;
  return ms;
}
