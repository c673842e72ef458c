/**
 * The control-plane section of `npm run bench`: one load, side by side, against SQLite with one
 * controller, PostgreSQL with one, and PostgreSQL with two and three controllers (one broker
 * namespace, one signing key, one database, a port each; the bench's clients spread round-robin
 * across the controllers). See docs/scaling.md, "Numbers".
 *
 * PostgreSQL: each setup gets a fresh database on the shared server (`WARREN_TEST_PG`, default
 * `postgres://postgres@127.0.0.1:5432/postgres`), dropped after it. `BENCH_PLANE_DB=sqlite-file`
 * runs the multi-controller setups on one shared SQLite file instead (to debug the mechanics on a
 * build without `--db postgres://`).
 */
import { Client } from 'pg';
import { freshDatabase, type TestDatabase } from '../test/support/postgres';
import { quantile, type Row } from './lib';
import { BenchWarren } from './warren';

/** One configuration of the control plane. */
export interface PlaneSetup {
  /** the group of its rows, e.g. `PostgreSQL ×2` */
  name: string;
  /** `postgres`: a fresh database, `--db postgres://…`; `sqlite-file`: one SQLite file shared by every controller */
  store: 'sqlite' | 'sqlite-file' | 'postgres';
  controllers: number;
}

/** What one setup measured. */
interface PlaneResult {
  setup: PlaneSetup;
  /** ms per one-host task, create + wait */
  oneHost: number[];
  /** ms per 1,000-host task, create + wait until all stored */
  thousand: number[];
  /** invocations stored per second, sustained */
  invPerSec: number;
  /** results each controller stored (its `warren_invocations_total{state="succeeded"}` over the setup) */
  storedBy: number[];
  /** invocations the clients saw succeed over the setup */
  requested: number;
}

/** A target of issue 13, checked against one run. */
export interface PlaneTarget {
  name: string;
  /** the measured ratio */
  value: number;
  /** e.g. `≤ 1.5` */
  target: string;
  met: boolean;
}

/** Sizes of the section: `quick` is the smoke run of `BENCH_QUICK=1`. */
function sizes(quick: boolean) {
  return {
    oneHost: { rounds: quick ? 20 : 200, warmup: quick ? 5 : 20 },
    thousand: { rounds: quick ? 3 : 10, warmup: quick ? 1 : 2 },
    /** s of sustained load: 8 clients, each sending tasks of 100 simulated hosts */
    sustainedSec: quick ? 5 : 30,
  };
}

/** ms; a task of this section not answered within it fails the setup (e.g. a wake-up that never comes) */
const ONE_HOST_TIMEOUT_MS = 30_000;
const THOUSAND_TIMEOUT_MS = 60_000;
const SIM_HOSTS = 1000;
const CLIENTS = 8;
/** simulated hosts in each task of the sustained load */
const PER_TASK = 100;

/** The four setups of the issue; `BENCH_PLANE_DB=sqlite-file` swaps PostgreSQL for one shared SQLite file. */
export function planeSetups(db: string | undefined): PlaneSetup[] {
  if (db !== undefined && db !== 'postgres' && db !== 'sqlite-file')
    throw new Error(`BENCH_PLANE_DB must be postgres or sqlite-file, got ${JSON.stringify(db)}`);
  const shared = db === 'sqlite-file' ? ('sqlite-file' as const) : ('postgres' as const);
  const label = shared === 'postgres' ? 'PostgreSQL' : 'SQLite file';
  return [
    { name: 'SQLite ×1', store: 'sqlite', controllers: 1 },
    { name: `${label} ×1`, store: shared, controllers: 1 },
    { name: `${label} ×2`, store: shared, controllers: 2 },
    { name: `${label} ×3`, store: shared, controllers: 3 },
  ];
}

/**
 * Runs every setup in turn and adds its rows through `row`, with ratios to the first setup
 * (SQLite, one controller). A setup that cannot start or stops answering is recorded in `failures`
 * (with the controller's last output) and the next one runs: nothing here waits without a bound.
 */
export async function controlPlaneRows(opts: {
  quick: boolean;
  setups: PlaneSetup[];
  row: (group: string, name: string, unit: string, xs: number[], extra?: Partial<Row>) => Row;
  log: (msg: string) => void;
}): Promise<{ targets: PlaneTarget[]; failures: string[] }> {
  const results: PlaneResult[] = [];
  const failures: string[] = [];
  for (const setup of opts.setups) {
    opts.log(`control plane: ${setup.name}`);
    try {
      const r = await measureSetup(setup, sizes(opts.quick));
      results.push(r);
      addRows(r, results[0].setup === opts.setups[0] ? results[0] : null, opts.row);
    } catch (err) {
      failures.push(`control plane, ${setup.name}: ${(err as Error).message}`);
      opts.log(`control plane: ${setup.name} FAILED: ${(err as Error).message}`);
    }
  }
  return { targets: targets(results), failures };
}

async function measureSetup(setup: PlaneSetup, size: ReturnType<typeof sizes>): Promise<PlaneResult> {
  let db: TestDatabase | null = null;
  const w = new BenchWarren();
  try {
    if (setup.store === 'postgres') {
      db = await freshDatabase('bench').catch((err: Error) => {
        throw new Error(`cannot create a database on PostgreSQL (WARREN_TEST_PG): ${err.message}`);
      });
    }
    for (let i = 0; i < setup.controllers; i++) await w.startController(db?.url);
    const urls = w.controllers.map((c) => c.url);
    const sims = await w.startSimulated('sim', SIM_HOSTS);
    const before = await Promise.all(urls.map((u) => w.counter(u, 'warren_invocations_total', { state: 'succeeded' })));
    let requested = 0;
    let turn = 0;
    /** one task through the next controller in turn */
    const run = async (hosts: string[], timeoutMs: number, url = urls[turn++ % urls.length]) => {
      await w.runWait('true', hosts, {}, url, timeoutMs);
      requested += hosts.length;
    };
    // One task first: a store that is not the one asked for fails the setup now, not after the measurements.
    await run([sims[0]], ONE_HOST_TIMEOUT_MS);
    if (db) await expectStoredIn(db, requested);
    const oneHost = await timed(size.oneHost, () => run([sims[0]], ONE_HOST_TIMEOUT_MS));
    const thousand = await timed(size.thousand, () => run(sims, THOUSAND_TIMEOUT_MS));
    const invPerSec = await sustained(size.sustainedSec, (k) =>
      run(sims.slice(k * PER_TASK, (k + 1) * PER_TASK), THOUSAND_TIMEOUT_MS, urls[k % urls.length]),
    );
    const after = await Promise.all(urls.map((u) => w.counter(u, 'warren_invocations_total', { state: 'succeeded' })));
    if (db) await expectStoredIn(db, requested);
    return { setup, oneHost, thousand, invPerSec, storedBy: after.map((a, i) => a - before[i]), requested };
  } catch (err) {
    // What the controllers complained about, under the error: usually the reason.
    throw new Error([(err as Error).message, ...w.complaints()].join('\n    '), { cause: err });
  } finally {
    await w.teardown().catch(() => undefined);
    await db?.drop().catch((err: Error) => process.stderr.write(`cannot drop ${db?.name}: ${err.message}\n`));
  }
}

/**
 * Checks that the results are in the PostgreSQL database, each once: a build that took the
 * `postgres://` URL for a SQLite file name would otherwise report SQLite's numbers as PostgreSQL's.
 */
async function expectStoredIn(db: TestDatabase, requested: number): Promise<void> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client
      .query<{ n: number }>(`SELECT count(*)::int AS n FROM invocations WHERE state = 'succeeded'`)
      .catch((err: Error) => {
        throw new Error(`the controllers did not store into ${db.name} (${err.message}): is --db postgres:// wired?`);
      });
    if (rows[0].n !== requested)
      throw new Error(`${db.name} holds ${rows[0].n} succeeded invocations, the clients saw ${requested}`);
  } finally {
    await client.end();
  }
}

async function timed(size: { rounds: number; warmup: number }, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < size.warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < size.rounds; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** {@link CLIENTS} clients, client `k` repeating `task(k)` (of {@link PER_TASK} hosts) for `secs`. Returns invocations/s. */
export async function sustained(secs: number, task: (k: number) => Promise<void>): Promise<number> {
  const until = Date.now() + secs * 1000;
  let done = 0;
  let failed: Error | null = null;
  const client = async (k: number) => {
    while (Date.now() < until && failed === null) {
      try {
        await task(k);
        done += PER_TASK;
      } catch (err) {
        failed ??= err as Error; // stops the others too: nothing keeps running after a failure
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));
  if (failed) throw failed;
  return (done * 1000) / (performance.now() - t0);
}

type RowFn = Parameters<typeof controlPlaneRows>[0]['row'];

/** The rows of one setup; ratios (this/baseline) when `base` is another setup that ran. */
function addRows(r: PlaneResult, base: PlaneResult | null, row: RowFn): void {
  const group = `control plane: ${r.setup.name}`;
  const other = base !== null && base !== r ? base : null;
  const vs = (mine: number, theirs: (b: PlaneResult) => number, what: string): Partial<Row> =>
    other ? { baseline: { name: `${what} of ${other.setup.name}`, ratio: mine / theirs(other) } } : {};
  const p50 = quantile(r.oneHost, 0.5);
  const p99 = quantile(r.oneHost, 0.99);
  row(group, '1 host: HTTP POST wait:true (create + wait)', 'ms', r.oneHost, {
    ...vs(p50, (b) => quantile(b.oneHost, 0.5), 'p50'),
    ...(other ? { note: `p99 ${(p99 / quantile(other.oneHost, 0.99)).toFixed(2)}×` } : {}),
  });
  const all = quantile(r.thousand, 0.5);
  row(group, `${SIM_HOSTS} simulated agents: all results stored`, 'ms', r.thousand, {
    ...vs(all, (b) => quantile(b.thousand, 0.5), 'median'),
  });
  row(group, `sustained invocations/s, ${CLIENTS} clients × ${PER_TASK} simulated hosts`, 'inv/s', [r.invPerSec], {
    ...vs(r.invPerSec, (b) => b.invPerSec, 'inv/s'),
  });
  // Which controller stored the results: each one's own counter, so the shares show the competing consumers at work.
  const total = r.storedBy.reduce((a, b) => a + b, 0);
  const mismatch = total !== r.requested ? `; the counters sum to ${total}, the clients saw ${r.requested}` : '';
  r.storedBy.forEach((n, i) => {
    const name = `results stored by controller ${String.fromCharCode(65 + i)} (its /metrics)`;
    row(group, name, '%', [(n * 100) / Math.max(1, total)], { note: `${n} of ${total}${mismatch}` });
  });
}

/** The issue's targets, from whichever setups ran: PostgreSQL ×1 one-host p50 ≤ 1.5× SQLite ×1; ×2 keeps ≥ 90 % of ×1's inv/s. */
function targets(results: PlaneResult[]): PlaneTarget[] {
  const find = (store: PlaneSetup['store'], n: number) =>
    results.find((r) => r.setup.store === store && r.setup.controllers === n);
  const shared = results.some((r) => r.setup.store === 'sqlite-file') ? 'sqlite-file' : 'postgres';
  const out: PlaneTarget[] = [];
  const lite = find('sqlite', 1);
  const one = find(shared, 1);
  const two = find(shared, 2);
  const three = find(shared, 3);
  if (lite && one) {
    const value = quantile(one.oneHost, 0.5) / quantile(lite.oneHost, 0.5);
    out.push({
      name: `${one.setup.name} one-host p50 / ${lite.setup.name}'s`,
      value,
      target: '≤ 1.5',
      met: value <= 1.5,
    });
  }
  if (one && two) {
    const value = two.invPerSec / one.invPerSec;
    out.push({ name: `${two.setup.name} inv/s / ${one.setup.name}'s`, value, target: '≥ 0.9', met: value >= 0.9 });
  }
  if (one && three) {
    const value = three.invPerSec / one.invPerSec;
    out.push({ name: `${three.setup.name} inv/s / ${one.setup.name}'s`, value, target: '(none)', met: true });
  }
  return out;
}

/** The targets for the control plane, one line each. */
export function renderTargets(targets: PlaneTarget[]): string {
  if (targets.length === 0) return '';
  const lines = targets.map(
    (t) => `  ${t.name}: ${t.value.toFixed(2)} (target ${t.target}: ${t.met ? 'met' : 'NOT met'})`,
  );
  return `\nControl-plane targets\n${lines.join('\n')}\n`;
}
