import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CompareArgumentError, compareRows, direction, loadResults, renderComparison, type Results } from './compare';
import type { Row } from './lib';

const r = (group: string, name: string, unit: string, median: number, extra: Partial<Row> = {}): Row => ({
  group,
  name,
  unit,
  median,
  p99: null,
  rounds: 1,
  ...extra,
});

describe('direction', () => {
  it('says lower is better for times and sizes, higher for rates, nothing for a bare ratio', () => {
    for (const u of ['ms', 'µs', 's', 'MiB', 'KiB', 'ms/host', '%']) expect(direction(u)).toBe(-1);
    for (const u of ['cmd/s', 'inv/s']) expect(direction(u)).toBe(1);
    expect(direction('x')).toBe(0);
  });
});

describe('compareRows', () => {
  const older = [
    r('fan-out 100 real agents', 'all results stored (HTTP wait)', 'ms', 648, {
      vs: { name: 'the floor', ratio: 1.5 },
    }),
    r('throughput', 'real commands/s, 10 agents', 'cmd/s', 240),
    r('footprint', 'agent idle RSS', 'MiB', 80),
    r('scale', 'round 3 / round 1', 'x', 0.5),
    r('old', 'only here', 'ms', 1),
  ];
  const newer = [
    r('fan-out 100 real agents', 'all results stored (HTTP wait)', 'ms', 324, {
      vs: { name: 'the floor', ratio: 1.2 },
    }),
    r('throughput', 'real commands/s, 10 agents', 'cmd/s', 300),
    r('footprint', 'agent idle RSS', 'MiB', 80.4),
    r('scale', 'round 3 / round 1', 'x', 0.9),
    r('growth', '10→50 real', 'ms/host', 4.6),
  ];
  const changes = compareRows(older, newer);
  const byName = (name: string) => changes.find((c) => c.name === name)!;

  it('matches rows by group and name and gives the change in % with a verdict by unit', () => {
    expect(byName('all results stored (HTTP wait)')).toMatchObject({
      kind: 'both',
      old: 648,
      new: 324,
      pct: -50,
      verdict: 'better',
      vs: { name: 'the floor', old: 1.5, new: 1.2 },
    });
    expect(byName('real commands/s, 10 agents')).toMatchObject({ pct: 25, verdict: 'better' });
    expect(byName('agent idle RSS').verdict).toBe('same'); // +0.5 %: within the noise band
    expect(byName('round 3 / round 1')).toMatchObject({ verdict: '' });
    expect(byName('round 3 / round 1').pct).toBeCloseTo(80);
  });

  it('calls a slower time and a lower rate worse', () => {
    const [t, q] = compareRows(
      [r('a', 'time', 'ms', 100), r('a', 'rate', 'inv/s', 100)],
      [r('a', 'time', 'ms', 110), r('a', 'rate', 'inv/s', 90)],
    );
    expect(t.verdict).toBe('worse');
    expect(q.verdict).toBe('worse');
  });

  it('lists rows only in the new run as new and only in the old one as gone', () => {
    expect(byName('10→50 real')).toMatchObject({ kind: 'new', old: null, new: 4.6 });
    expect(byName('only here')).toMatchObject({ kind: 'gone', old: 1, new: null });
    expect(changes.map((c) => c.kind)).toEqual(['both', 'both', 'both', 'both', 'new', 'gone']);
  });

  it('gives no verdict when the unit changed', () => {
    const [c] = compareRows([r('a', 'b', 'ms', 1)], [r('a', 'b', 's', 1)]);
    expect(c).toMatchObject({ verdict: '', pct: null, note: 'unit was ms' });
  });

  it('renders both runs, the table, the new and gone rows and a count', () => {
    const o: Results = { date: '2026-11-23T09:35:51.014Z', quick: false, rows: older };
    const n: Results = { date: '2026-12-02T15:00:00.000Z', quick: true, only: 'fleet', rows: newer };
    const text = renderComparison(o, n);
    expect(text).toContain('2026-11-23T09:35:51.014Z (old) → 2026-12-02T15:00:00.000Z QUICK BENCH_ONLY=fleet (new)');
    expect(text).toMatch(/all results stored \(HTTP wait\)\s+ms\s+648\s+324\s+-50\.0 %\s+better\s+1\.50× → 1\.20×/);
    expect(text).toContain('Only in the new run (1):\n  growth / 10→50 real: 4.60 ms/host');
    expect(text).toContain('Only in the old run (gone) (1):\n  old / only here: 1.00 ms');
    expect(text).toContain('4 rows in both: 2 better, 0 worse, 1 within ±1 %, 1 without a verdict');
    // a ratio only one run has: a dash on the other side
    const [c] = compareRows([r('a', 'b', 'ms', 1)], [r('a', 'b', 'ms', 2, { vs: { name: 'the floor', ratio: 2 } })]);
    expect(renderComparison({ ...o, rows: [r('a', 'b', 'ms', 1)] }, { ...n, rows: [] }, [c])).toContain(
      '- → 2.00× the floor',
    );
  });
});

describe('loadResults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-compare-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('reads a results file', () => {
    const p = file('ok.json', JSON.stringify({ date: 'd', quick: false, rows: [r('a', 'b', 'ms', 1)] }));
    expect(loadResults(p)).toMatchObject({ date: 'd', quick: false, only: null, rows: [{ group: 'a' }] });
  });

  it('refuses a missing file, non-JSON, JSON without rows, and rows without a median', () => {
    expect(() => loadResults(join(dir, 'nope.json'))).toThrow(CompareArgumentError);
    expect(() => loadResults(join(dir, 'nope.json'))).toThrow(/cannot read .*ENOENT/);
    expect(() => loadResults(file('text.json', 'hello'))).toThrow(/is not JSON/);
    expect(() => loadResults(file('pkg.json', '{"name":"warren"}'))).toThrow(/no "rows" list/);
    expect(() => loadResults(file('bad.json', '{"rows":[{"group":"a","name":"b","unit":"ms"}]}'))).toThrow(
      /row 1 has no group, name, unit and numeric median/,
    );
  });
});
