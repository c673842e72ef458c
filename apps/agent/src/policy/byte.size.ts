const BYTE_UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Bytes from a whole number or `512KiB`, `1MiB`, `1.5GiB` (binary units; `B` = bytes). */
export function parseByteSize(v: unknown, fail: (problem: string) => never): number {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v) && v >= 0) return v;
    return fail(`must be a whole number of bytes, got ${v}`);
  }
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(v.trim()) : null;
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) return fail(`must be a size like 65536, 512KiB or 1MiB, got ${JSON.stringify(v)}`);
  return Math.floor(Number(m[1]) * unit);
}
