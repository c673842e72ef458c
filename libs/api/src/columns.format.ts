/**
 * Lays rows out in columns separated by two spaces. A column is as wide as its widest cell among
 * the rows where that cell is not the row's last: a last cell is never padded (so lines carry no
 * trailing blanks) and a long free-text last cell does not push other rows' columns apart.
 * `paint` may style a cell's text; escapes do not count towards the width and padding stays unstyled.
 */
export function formatColumns(rows: string[][], paint?: (cell: string, row: number, col: number) => string): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (let i = 0; i < row.length - 1; i++) widths[i] = Math.max(widths[i] ?? 0, row[i].length);
  }
  return rows.map((row, r) =>
    row
      .map((cell, c) => {
        const pad = c === row.length - 1 ? '' : ' '.repeat(widths[c] - cell.length);
        return (paint ? paint(cell, r, c) : cell) + pad;
      })
      .join('  '),
  );
}
