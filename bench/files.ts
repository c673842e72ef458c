/**
 * The file-copy row of `npm run bench` (issue 16): 10 MiB to 50 real agents with `warren cp --wait`
 * against pdcp, parallel-scp (pscp) and `clush --copy` to 50 SSH hosts, wall clock, at the same N,
 * with the controller's and the broker's peak RSS during the Warren run. `BENCH_ONLY=files` runs it
 * alone. See docs/files.md and docs/performance.md.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, type Row, rss, runCommand, timeRounds } from './lib';
import { peerCopyCommands, setupPeers, teardownPeers } from './peers/peers';
import { BenchWarren } from './warren';

/** hosts of the row */
const N = 50;
/** bytes of the file copied */
const FILE_BYTES = 10 * 1024 * 1024;
/** ms between two RSS samples of the controller and the broker during a Warren run */
const SAMPLE_MS = 20;

type RowFn = (group: string, name: string, unit: string, xs: number[], extra?: Partial<Row>) => Row;

/** The OS pid of the RabbitMQ node at the default node name (the shared broker), or null if rabbitmqctl cannot say. */
function brokerPid(): number | null {
  try {
    const out = execFileSync('rabbitmqctl', ['eval', 'list_to_integer(os:getpid()).'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    const pid = Number(out.trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Runs `argv` to its end and returns its stdout; rejects on a non-zero exit with the end of its stderr. */
function capture(argv: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`warren cp exited ${code}: ${err}`))));
  });
}

/** The largest RSS of each pid, sampled every {@link SAMPLE_MS} while `fn` runs. */
async function sampleRss(pids: number[], fn: () => Promise<void>): Promise<number[]> {
  const peak = pids.map((p) => rss(p));
  const timer = setInterval(() => pids.forEach((p, i) => (peak[i] = Math.max(peak[i], rss(p)))), SAMPLE_MS);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return peak;
}

/**
 * Warren's rounds: each copies the file to a new path (every agent writes it: a path it already
 * has would be `unchanged` and receive nothing), checks that all 50 hosts report `changed: true`,
 * and samples the controller's and broker's RSS meanwhile.
 */
async function warrenCopy(opts: { quick: boolean; row: RowFn; log: (m: string) => void }, src: string): Promise<Row> {
  const w = new BenchWarren();
  try {
    await w.startController();
    const hostfs = join(w.dir, 'hostfs');
    const agents = await w.startAgents('cp', N, 8, hostfs);
    const broker = brokerPid();
    if (broker === null) opts.log('rabbitmqctl did not give the broker pid: no broker RSS row');
    const controller = w.controller!.child.pid!;
    const idle = [rss(controller), broker === null ? 0 : rss(broker)];
    const peaks = [0, 0];
    let round = 0;
    const copy = async () => {
      const dest = `${hostfs}/copy-${++round}.bin`;
      const [c, b] = await sampleRss(broker === null ? [controller] : [controller, broker], async () => {
        const out = await capture(
          [...bin('warren'), 'cp', src, '--dest', dest, '--hosts', agents.join(','), '--wait', '--json', '--yes'],
          { WARREN_URL: w.url, WARREN_TOKEN: w.token },
        );
        const task = JSON.parse(out) as { results: { state: string; file: { changed: boolean } | null }[] };
        const written = task.results.filter((r) => r.state === 'succeeded' && r.file?.changed === true).length;
        if (written !== N) throw new Error(`warren cp: ${written} of ${N} hosts wrote the file: ${out.slice(0, 2000)}`);
      });
      peaks[0] = Math.max(peaks[0], c);
      peaks[1] = Math.max(peaks[1], b ?? 0);
    };
    const group = `file copy 10 MiB to ${N} real agents`;
    const r = opts.row(group, 'warren cp --wait', 'ms', await timeRounds(opts.quick ? 1 : 5, 1, copy));
    opts.row(group, 'controller peak RSS during warren cp', 'MiB', [peaks[0] / 2 ** 20], {
      note: `idle before: ${(idle[0] / 2 ** 20).toFixed(0)} MiB`,
    });
    if (broker !== null)
      opts.row(group, 'broker peak RSS during warren cp', 'MiB', [peaks[1] / 2 ** 20], {
        note: `idle before: ${(idle[1] / 2 ** 20).toFixed(0)} MiB (the whole node, other work included)`,
      });
    return r;
  } finally {
    await w.teardown();
  }
}

/** The SSH peers' rounds, each to a new path on the 50 aliases of the loopback sshd; returns the fastest median. */
async function peerCopy(opts: { quick: boolean; row: RowFn; log: (m: string) => void }, src: string, dir: string) {
  let best = Infinity;
  opts.log('setting up the SSH peers for the file-copy row');
  setupPeers();
  try {
    let round = 0;
    for (const tool of ['pdcp', 'pscp', 'clush --copy'] as const) {
      const xs = await timeRounds(opts.quick ? 1 : 3, 0, async () => {
        const p = peerCopyCommands(N, src, join(dir, `peer-${++round}.bin`)).find((c) => c.tool === tool)!;
        await runCommand(p.argv, p.env);
      });
      best = Math.min(
        best,
        opts.row(`file copy 10 MiB to ${N} SSH hosts`, `${tool} (parallelism ${N})`, 'ms', xs).median,
      );
    }
  } finally {
    teardownPeers();
  }
  return best;
}

/** The file-copy rows; with `peers`, the SSH tools too and Warren's ratio against the fastest. */
export async function fileCopyRows(opts: {
  quick: boolean;
  peers: boolean;
  row: RowFn;
  log: (m: string) => void;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-files-'));
  try {
    const src = join(dir, 'ten-mib.bin');
    writeFileSync(src, randomBytes(FILE_BYTES));
    const warren = await warrenCopy(opts, src);
    if (!opts.peers) return;
    const best = await peerCopy(opts, src, dir);
    warren.vs = { name: `fastest of pdcp, pscp, clush --copy at N=${N}`, ratio: best / warren.median };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
