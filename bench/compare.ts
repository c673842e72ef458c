/**
 * Two bench runs side by side: each row of the newer run that the older one has too (same group and
 * measure), with both medians, the change in % and whether that is better or worse for its unit.
 *
 *   npx tsx bench/compare.ts <older results json> <newer results json>     (npm run bench:compare -- old new)
 *   npm run bench -- --compare <older results json>                        (after a run, against that run)
 *
 * Exit 2 on an argument error: a missing file, or one that is not a results JSON of `npm run bench`.
 */
import { readFileSync } from 'node:fs';
import { alignColumns, type Row } from './lib';

/** What `npm run bench` writes under bench/results/: the rows and a little about the run. */
export interface Results {
  date: string;
  quick: boolean;
  only?: string | null;
  rows: Row[];
}

/** An argument the comparison cannot use: printed as is, exit 2. */
export class CompareArgumentError extends Error {}

/** Reads and checks a results file; throws {@link CompareArgumentError} with a message for the user. */
export function loadResults(path: string): Results {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CompareArgumentError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CompareArgumentError(`${path} is not JSON (expected a bench/results/bench-*.json of npm run bench)`);
  }
  return checkResults(data, path);
}

/** `data` as {@link Results}, or a {@link CompareArgumentError} saying what is wrong with `source`. */
export function checkResults(data: unknown, source: string): Results {
  const d = data as Partial<Results> | null;
  const isRow = (r: unknown): r is Row => {
    const x = r as Partial<Row> | null;
    return (
      typeof x === 'object' &&
      x !== null &&
      typeof x.group === 'string' &&
      typeof x.name === 'string' &&
      typeof x.unit === 'string' &&
      typeof x.median === 'number'
    );
  };
  if (typeof d !== 'object' || d === null || Array.isArray(d) || !Array.isArray(d.rows))
    throw new CompareArgumentError(`${source} is not a results JSON of npm run bench (no "rows" list)`);
  const bad = d.rows.findIndex((r) => !isRow(r));
  if (bad >= 0)
    throw new CompareArgumentError(
      `${source} is not a results JSON of npm run bench (row ${bad + 1} has no group, name, unit and numeric median)`,
    );
  return {
    date: typeof d.date === 'string' ? d.date : '?',
    quick: d.quick === true,
    only: d.only ?? null,
    rows: d.rows,
  };
}

export type Verdict = 'better' | 'worse' | 'same' | '';

/** One row of the comparison. */
export interface Change {
  group: string;
  name: string;
  unit: string;
  /** `both`: in both runs (medians and change); `new`: only in the newer; `gone`: only in the older */
  kind: 'both' | 'new' | 'gone';
  old: number | null;
  new: number | null;
  /** (new − old) / |old| × 100; null when not in both, or old is 0 */
  pct: number | null;
  verdict: Verdict;
  /** the rows' ratios (`vs`), when either has one */
  vs?: { name: string; old: number | null; new: number | null };
  /** why there is no verdict, e.g. the unit changed */
  note?: string;
}

/** Changes within this many % either way are `same`: the bench's own noise is larger. */
export const SAME_WITHIN_PCT = 1;

/**
 * +1 when a larger value is better (a rate: cmd/s, inv/s, anything per second), −1 when smaller is
 * (a time or a size: ms, µs, s, MiB, KiB, ms/host, %, a CPU share), 0 when the unit does not say
 * (`x`, a ratio whose good side depends on the row).
 */
export function direction(unit: string): 1 | -1 | 0 {
  if (/\/s$/.test(unit)) return 1;
  if (/^(ns|µs|us|ms|s|min|B|KiB|MiB|GiB|%)(\/host)?$/.test(unit)) return -1;
  return 0;
}

const key = (r: Pick<Row, 'group' | 'name'>) => `${r.group}\u0000${r.name}`;

/** Every row of `newer` against the same row of `older`, in the newer run's order, then the rows gone. */
export function compareRows(older: Row[], newer: Row[]): Change[] {
  const before = new Map<string, Row>();
  for (const r of older) if (!before.has(key(r))) before.set(key(r), r);
  const seen = new Set<string>();
  const out: Change[] = [];
  for (const r of newer) {
    if (seen.has(key(r))) continue;
    seen.add(key(r));
    const o = before.get(key(r));
    const vs =
      r.vs || o?.vs ? { name: (r.vs ?? o?.vs)!.name, old: o?.vs?.ratio ?? null, new: r.vs?.ratio ?? null } : undefined;
    if (!o) {
      out.push({ ...pick(r), kind: 'new', old: null, new: r.median, pct: null, verdict: '', ...(vs && { vs }) });
      continue;
    }
    if (o.unit !== r.unit) {
      out.push({
        ...pick(r),
        kind: 'both',
        old: o.median,
        new: r.median,
        pct: null,
        verdict: '',
        note: `unit was ${o.unit}`,
        ...(vs && { vs }),
      });
      continue;
    }
    const pct = o.median === 0 ? null : ((r.median - o.median) / Math.abs(o.median)) * 100;
    const dir = direction(r.unit);
    const verdict: Verdict =
      pct === null || dir === 0 ? '' : Math.abs(pct) < SAME_WITHIN_PCT ? 'same' : pct * dir > 0 ? 'better' : 'worse';
    out.push({ ...pick(r), kind: 'both', old: o.median, new: r.median, pct, verdict, ...(vs && { vs }) });
  }
  for (const o of older)
    if (!seen.has(key(o))) {
      seen.add(key(o));
      out.push({ ...pick(o), kind: 'gone', old: o.median, new: null, pct: null, verdict: '' });
    }
  return out;
}

const pick = (r: Row) => ({ group: r.group, name: r.name, unit: r.unit });

const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}×`);

const num = (x: number | null) =>
  x === null ? '-' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);

/** The comparison as aligned text: a header naming both runs, the rows in both, then the new and gone ones. */
export function renderComparison(
  older: Results,
  newer: Results,
  changes = compareRows(older.rows, newer.rows),
): string {
  const about = (r: Results) => `${r.date}${r.quick ? ' QUICK' : ''}${r.only ? ` BENCH_ONLY=${r.only}` : ''}`;
  const both = changes.filter((c) => c.kind === 'both');
  const head = ['group', 'measure', 'unit', 'old', 'new', 'change', '', 'ratio old → new'];
  const body = both.map((c) => [
    c.group,
    c.name,
    c.unit,
    num(c.old),
    num(c.new),
    c.pct === null ? '-' : `${c.pct >= 0 ? '+' : ''}${c.pct.toFixed(1)} %`,
    c.note ?? c.verdict,
    c.vs ? `${ratio(c.vs.old)} → ${ratio(c.vs.new)} ${c.vs.name}` : '',
  ]);
  const lines = [`Compared with ${about(older)} (old) → ${about(newer)} (new)`];
  if (older.quick !== newer.quick)
    lines.push('(one run is BENCH_QUICK=1 and the other is not: fewer rounds, other sizes; read with care)');
  lines.push('');
  if (both.length > 0) lines.push(...alignColumns(head, body));
  else lines.push('(no row in both runs)');
  const list = (kind: 'new' | 'gone', title: string) => {
    const xs = changes.filter((c) => c.kind === kind);
    if (xs.length === 0) return;
    lines.push('', `${title} (${xs.length}):`);
    for (const c of xs) lines.push(`  ${c.group} / ${c.name}: ${num(kind === 'new' ? c.new : c.old)} ${c.unit}`);
  };
  list('new', 'Only in the new run');
  list('gone', 'Only in the old run (gone)');
  const count = (v: Verdict) => both.filter((c) => c.verdict === v).length;
  lines.push(
    '',
    `${both.length} rows in both: ${count('better')} better, ${count('worse')} worse, ${count('same')} within ±${SAME_WITHIN_PCT} %` +
      `, ${both.length - count('better') - count('worse') - count('same')} without a verdict (unit x, an old 0, or the unit changed)`,
  );
  return `${lines.join('\n')}\n`;
}

/** `tsx bench/compare.ts old.json new.json`: prints the comparison; exit 2 on an argument error. */
export function compareMain(args: string[]): number {
  try {
    if (args.length !== 2)
      throw new CompareArgumentError('usage: tsx bench/compare.ts <older results json> <newer results json>');
    const [older, newer] = args.map(loadResults);
    process.stdout.write(renderComparison(older, newer));
    return 0;
  } catch (err) {
    if (!(err instanceof CompareArgumentError)) throw err;
    process.stderr.write(`bench compare: ${err.message}\n`);
    return 2;
  }
}

// Run as a script (tsx, CommonJS), not when imported (run.ts, the unit spec).
if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module)
  process.exitCode = compareMain(process.argv.slice(2));
