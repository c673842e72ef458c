import { describe, expect, it } from 'vitest';
import { parseByteSize } from './byte-size.rule';

describe('parseByteSize', () => {
  it.each([
    ['65536', 65536],
    ['512KiB', 512 * 1024],
    ['256 mib', 256 * 1024 ** 2],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['0', 0],
    ['10B', 10],
  ])('reads %s as %d bytes', (text, bytes) => expect(parseByteSize(text)).toBe(bytes));

  it.each(['', 'MiB', '-1', '1MB', '1 TiB', '1e3', '99999999999GiB'])('refuses %j', (text) =>
    expect(parseByteSize(text)).toBeNull(),
  );
});
