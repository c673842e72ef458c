/** Small helpers of the benchmark: statistics, timing whole commands, starting Warren processes, the table. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The q-quantile (0..1) of `xs`, nearest-rank. */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** One row of the result table. */
export interface Row {
  group: string;
  name: string;
  /** e.g. 'ms', 'inv/s', 'MiB' */
  unit: string;
  median: number;
  /** p99 over the rounds (with few rounds: their maximum) */
  p99: number | null;
  rounds: number;
  /** which peer row this is compared against, and the ratio peer/this (>1: Warren faster) */
  vs?: { name: string; ratio: number };
  /** the control plane's baseline (SQLite, one controller) and the ratio this/baseline (>1: more ms, or more inv/s) */
  baseline?: { name: string; ratio: number };
  note?: string;
}

/** Runs `fn` `warmup` times uncounted, then `rounds` times, returning the durations in ms. */
export async function timeRounds(rounds: number, warmup: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Runs a whole command to its end; rejects on a non-zero exit. Output is discarded. */
export function runCommand(argv: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stdout.resume();
    c.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    c.on('error', rej);
    c.on('exit', (code) =>
      code === 0 ? res() : rej(new Error(`${argv.slice(0, 3).join(' ')} … exited ${code}: ${err}`)),
    );
  });
}

/** A background process of the bench, killed at the end. */
export class Bg {
  output = '';
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-20_000)));
    child.stderr?.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-20_000)));
  }
  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.output.split('\n').find((l) => re.test(l));
      if (line) return line;
      if (this.child.exitCode !== null) throw new Error(`exited before ${re}: ${this.output.slice(-1000)}`);
      await sleep(20);
    }
    throw new Error(`timed out waiting for ${re}: ${this.output.slice(-1000)}`);
  }
  kill(sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => {
      this.child.once('exit', () => r());
      this.child.kill(sig);
    });
  }
}

export function startBg(argv: string[], env: Record<string, string> = {}): Bg {
  return new Bg(
    spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

export function bin(name: string): string[] {
  return [process.execPath, join(ROOT, 'bin', `${name}.js`)];
}

/** Resident set size of a process, in bytes (`peak`: VmHWM). */
export function rss(pid: number, peak = false): number {
  const m = new RegExp(`${peak ? 'VmHWM' : 'VmRSS'}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU time (user + system) a process has used, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
}

const fmt = (x: number | null, unit: string) => {
  if (x === null) return '-';
  if (unit === 'ms' || unit === 's') return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
};

/** The table, as aligned text. */
export function renderTable(rows: Row[]): string {
  const head = ['group', 'measure', 'unit', 'median', 'p99/max', 'n', 'ratio (peer/warren; plane: this/baseline)'];
  const body = rows.map((r) => [
    r.group,
    r.name,
    r.unit,
    fmt(r.median, r.unit),
    fmt(r.p99, r.unit),
    String(r.rounds),
    r.vs
      ? `${r.vs.ratio.toFixed(r.vs.ratio < 10 ? 2 : 1)}× vs ${r.vs.name}`
      : [r.baseline && `${r.baseline.ratio.toFixed(2)}× ${r.baseline.name}`, r.note].filter(Boolean).join('; '),
  ]);
  return alignColumns(head, body).join('\n');
}

/**
 * A header, a rule and the rows as lines of aligned columns two spaces apart: the 4th to 6th
 * columns (the figures) right-aligned, the others left-aligned.
 */
export function alignColumns(head: string[], body: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 3 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}
