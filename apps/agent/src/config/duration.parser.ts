/**
 * Parses `500ms`, `5s`, `2m`, `1h` or a bare number of seconds (`5`, `0.5`) into ms.
 * Returns null when the text is not a duration, so the caller can name the bad setting.
 */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const unit = m[2] ?? 's';
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1_000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(Number(m[1]) * factor);
}
