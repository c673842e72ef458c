const FACTOR_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses `500ms`, `30s`, `1.5m`, `1h`, or a bare number of seconds into whole ms.
 * Returns null when `text` is none of these, or is zero.
 */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const ms = Math.round(Number(m[1]) * FACTOR_MS[m[2] ?? 's']);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

/** Like {@link parseDurationMs}, but `0` is allowed (e.g. no kill grace at all). */
export function parseDurationOrZeroMs(text: string): number | null {
  return /^0+(?:\.0+)?\s*(ms|s|m|h)?$/.test(text.trim()) ? 0 : parseDurationMs(text);
}
