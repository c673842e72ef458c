/** What a size looks like, for messages that name the field. */
export const BYTE_SIZE_FORMAT = '65536, 512KiB, 256MiB or 2GiB';

const FACTOR = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 } as const;

/**
 * A size in bytes: a non-negative decimal number and an optional binary unit, `B`, `KiB`, `MiB` or
 * `GiB` (case-insensitive; none: bytes), blanks allowed around and between. Returns whole bytes
 * (rounded down), or null when the text is none of these or past `Number.MAX_SAFE_INTEGER`.
 */
export function parseByteSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  const factor = m ? FACTOR[(m[2] || 'b').toLowerCase() as keyof typeof FACTOR] : undefined;
  if (!m || factor === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}
