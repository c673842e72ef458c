import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/** px; every row has this height, so the visible slice is arithmetic, never measured */
const ROW_HEIGHT = 28;
/** rows drawn above and below the visible ones, so a quick scroll shows no blank */
const OVERSCAN = 8;

interface Props {
  /** column headers */
  columns: string[];
  count: number;
  /** the cells of row `index` */
  row(index: number): ComponentChildren[];
  selected: number;
  onSelect(index: number): void;
  label: string;
  /** px, at most: the grid scrolls beyond */
  height?: number;
}

/**
 * A table of `count` rows of which only the visible ones (and a few around them) are in the DOM,
 * so 1,000 hosts cost the same to draw as 30. Keyboard: the grid takes focus; arrows, Page Up/Down,
 * Home and End move the selection, which follows into view.
 */
export function VirtualGrid({ columns, count, row, selected, onSelect, label, height: most = 420 }: Props) {
  // A few hosts take the room they need; many scroll within `most`.
  const height = Math.min(most, Math.max(count, 1) * ROW_HEIGHT + 2);
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const visible = Math.ceil(height / ROW_HEIGHT);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.floor(scrollTop / ROW_HEIGHT) + visible + OVERSCAN);

  useEffect(() => {
    const el = box.current;
    if (!el || selected < 0) return;
    const top = selected * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight - ROW_HEIGHT)
      el.scrollTop = top + 2 * ROW_HEIGHT - el.clientHeight;
  }, [selected]);

  const onKey = (e: KeyboardEvent) => {
    const moves: Record<string, number> = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: visible - 1,
      PageUp: 1 - visible,
      Home: -count,
      End: count,
    };
    const move = moves[e.key];
    if (move === undefined || count === 0) return;
    e.preventDefault();
    onSelect(Math.max(0, Math.min(count - 1, (selected < 0 ? -1 : selected) + move)));
  };

  const rows = [];
  for (let i = first; i < last; i++)
    rows.push(
      <div
        role="row"
        key={i}
        id={`row-${i}`}
        class={i === selected ? 'vrow selected' : 'vrow'}
        aria-selected={i === selected}
        aria-rowindex={i + 2}
        style={{ top: `${i * ROW_HEIGHT}px` }}
        onClick={() => onSelect(i)}
      >
        {row(i).map((cell, c) => (
          <span role="gridcell" key={c}>
            {cell}
          </span>
        ))}
      </div>,
    );
  return (
    <div class="vgrid" role="grid" aria-label={label} aria-rowcount={count + 1}>
      <div role="row" class="vrow vhead" aria-rowindex={1}>
        {columns.map((c) => (
          <span role="columnheader" key={c}>
            {c}
          </span>
        ))}
      </div>
      <div
        ref={box}
        class="vbody"
        tabIndex={0}
        style={{ height: `${height}px` }}
        onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
        onKeyDown={onKey}
        aria-activedescendant={selected >= 0 ? `row-${selected}` : undefined}
      >
        <div class="vspace" style={{ height: `${count * ROW_HEIGHT}px` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
