import { describe, expect, it } from 'vitest';
import { formatColumns } from './columns.format';

describe('formatColumns', () => {
  it('pads each column to its widest cell, two spaces apart, and never pads a last cell', () => {
    expect(
      formatColumns([
        ['NAME', 'ROLE', 'REVOKED'],
        ['alice', 'admin', '-'],
        ['bo', 'viewer', '2025-01-01T00:00:00Z'],
      ]),
    ).toEqual(['NAME   ROLE    REVOKED', 'alice  admin   -', 'bo     viewer  2025-01-01T00:00:00Z']);
  });

  it('does not let a long last cell widen the column it ends in for other rows', () => {
    expect(
      formatColumns([
        ['web1', 'a long free-text reason'],
        ['web10', 'ok', 'x'],
      ]),
    ).toEqual(['web1   a long free-text reason', 'web10  ok  x']);
  });

  it('paints cells without counting the escapes towards the width', () => {
    const red = (cell: string, row: number, col: number) => (row === 0 && col === 0 ? `\x1b[31m${cell}\x1b[0m` : cell);
    expect(
      formatColumns(
        [
          ['a', 'b'],
          ['ccc', 'd'],
        ],
        red,
      ),
    ).toEqual(['\x1b[31ma\x1b[0m    b', 'ccc  d']);
  });
});
