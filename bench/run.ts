/**
 * `npm run bench`: Warren against pssh, pdsh, clush and ansible on this machine, in one run.
 * Prints one table and writes it as JSON under bench/results/. See docs/performance.md.
 *
 * Environment: BENCH_QUICK=1 for fewer rounds (a smoke run), BENCH_NO_PEERS=1 to skip the SSH peers,
 * BENCH_ONLY=fleet for the first section alone (the floors, one controller with real and simulated
 * agents, the growth rows, the SSH peers unless BENCH_NO_PEERS=1), BENCH_ONLY=control-plane for the
 * control-plane section alone (SQLite and PostgreSQL, one to three controllers: bench/control-plane.ts,
 * docs/scaling.md), BENCH_PLANE_DB=sqlite-file to run its
 * multi-controller setups on one shared SQLite file instead of PostgreSQL; BENCH_ONLY=queues for the
 * quorum-against-classic part alone (a private 3-node RabbitMQ cluster: bench/queues.ts);
 * BENCH_ONLY=files for the file-copy row alone (10 MiB to 50 real agents against pdcp, pscp and
 * clush --copy: bench/files.ts, docs/files.md); BENCH_ONLY=scale for one task to 1,000-10,000 simulated
 * hosts against the broker-and-simulators floor (bench/scale.ts, docs/performance.md "Scale");
 * BENCH_ONLY=console for the web console on a task of 1,000 simulated hosts in Debian's Chromium
 * (bench/console.ts, docs/console.md).
 *
 * Arguments: `--compare <older results json>` prints, after the table, each row against the same row
 * of that run (bench/compare.ts); `--compare <older> <newer>` compares two files without running.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ProcessRunner } from '../apps/agent/src/exec/process.runner';
import { bin, cpuMs, quantile, ROOT, type Row, renderTable, rss, runCommand, sleep, timeRounds } from './lib';
import { peerCommands, peerVersions, setupPeers, teardownPeers } from './peers/peers';
import { controlPlaneRows, planeSetups, renderTargets } from './control-plane';
import { queueRows } from './queues';
import {
  brokerRoundTrip,
  commandAlone,
  fsyncAppend,
  shSpawnExit,
  signEnvelope,
  sqliteCommit,
  verifyEnvelope,
} from './floor';
import { BenchWarren, BROKER } from './warren';
import { fileCopyRows } from './files';
import { scaleRows } from './scale';
import { consoleRows } from './console';
import { CompareArgumentError, compareMain, loadResults, renderComparison, type Results } from './compare';

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY;
const R = (full: number, quick: number) => (QUICK ? quick : full);
const FANOUT_COMMAND = 'hostname; uptime';
const rows: Row[] = [];
const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function row(group: string, name: string, unit: string, xs: number[], extra: Partial<Row> = {}): Row {
  const r: Row = {
    group,
    name,
    unit,
    median: quantile(xs, 0.5),
    p99: xs.length > 1 ? quantile(xs, 0.99) : null,
    rounds: xs.length,
    ...extra,
  };
  rows.push(r);
  log(`${group} / ${name}: median ${r.median.toFixed(2)} ${unit}`);
  return r;
}

/** Returns the failures to report (a row that could not run), after the table. */
async function warrenRows(w: BenchWarren): Promise<string[]> {
  const failures: string[] = [];
  // WARREN_CONFIRM_OVER: the benchmark's large runs are not confirmed at a prompt.
  const cli = (args: string[]) =>
    runCommand([...bin('warren'), ...args], {
      WARREN_URL: w.url,
      WARREN_TOKEN: w.token,
      WARREN_CONFIRM_OVER: '100000',
    });

  // 1. One host, `true`.
  const [one] = await w.startAgents('one', 1);
  row(
    '1 host, true',
    'HTTP POST wait:true',
    'ms',
    await timeRounds(R(300, 30), 20, () => w.runWait('true', [one]).then(() => undefined)),
  );
  row(
    '1 host, true',
    'CLI warren run --wait',
    'ms',
    await timeRounds(R(30, 5), 3, () => cli(['run', 'true', '--hosts', one, '--wait'])),
  );
  // The CLI's start against Node's own, measured in turn (a pair per round) so that a drift of
  // the machine's speed moves both: the row's ratio is warren --version / node -e "".
  {
    const warrenStart: number[] = [];
    const nodeStart: number[] = [];
    const timed = async (into: number[], run: () => Promise<void>) => {
      const t0 = performance.now();
      await run();
      into.push(performance.now() - t0);
    };
    for (let i = 0; i < 3 + R(30, 5); i++) {
      await timed(warrenStart, () => cli(['--version']));
      await timed(nodeStart, () => runCommand([process.execPath, '-e', '']));
    }
    const r = row('1 host, true', 'CLI process start (warren --version)', 'ms', warrenStart.slice(3));
    const floor = row('floor', 'Node.js process start (node -e "")', 'ms', nodeStart.slice(3));
    r.vs = { name: 'node -e "" start (the floor: lower is better)', ratio: r.median / floor.median };
  }

  // 2. Fan-out to real agents, each size in turn with its floor: the same command alone, N times, two
  // at a time (the machine's 2 cores), no Warren. A pair per round (Warren, then the floor), so that a
  // drift of the machine's speed moves both; the HTTP row's ratio is this/floor (target ≤ 1.3×).
  const agents = await w.startAgents('ag', QUICK ? 10 : 100);
  const fanout = new Map<number, Row>();
  for (const n of QUICK ? [1, 10] : [1, 10, 50, 100]) {
    const hosts = agents.slice(0, n);
    const http: number[] = [];
    const alone: number[] = [];
    for (let i = 0; i < 2; i++) await w.runWait(FANOUT_COMMAND, hosts);
    await commandAlone(FANOUT_COMMAND, n);
    for (let i = 0; i < R(15, 3); i++) {
      const t0 = performance.now();
      await w.runWait(FANOUT_COMMAND, hosts);
      http.push(performance.now() - t0);
      alone.push(await commandAlone(FANOUT_COMMAND, n));
    }
    const g = `fan-out ${n} real agent${n === 1 ? '' : 's'}`;
    const r = row(g, 'all results stored (HTTP wait)', 'ms', http);
    const floor = row('floor', `command alone, N=${n} (2 at a time)`, 'ms', alone);
    r.vs = { name: `command alone, N=${n} (the floor: lower is better)`, ratio: r.median / floor.median };
    fanout.set(n, r);
    if (n === 1) continue; // the CLI at one host: the row "1 host, true" above
    row(
      g,
      'CLI warren run --wait',
      'ms',
      await timeRounds(R(10, 3), 1, () => cli(['run', FANOUT_COMMAND, '--hosts', ...hosts, '--wait'])),
    );
  }

  // 3. Real commands per second across 10 real agents (4 slots each), 15 s.
  {
    const hosts = agents.slice(0, 10);
    const until = Date.now() + R(15_000, 3_000);
    let done = 0;
    const worker = async () => {
      while (Date.now() < until) {
        await w.runWait('true', hosts);
        done += hosts.length;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, worker));
    row('throughput', 'real commands/s, 10 agents', 'cmd/s', [(done * 1000) / (performance.now() - t0)]);
  }

  // 4. Footprint of an idle agent.
  {
    const a = w.agents.get(agents[0])!;
    await sleep(2_000);
    const c0 = cpuMs(a.child.pid!);
    await sleep(R(10_000, 3_000));
    const c1 = cpuMs(a.child.pid!);
    row('footprint', 'agent idle RSS', 'MiB', [rss(a.child.pid!) / 2 ** 20]);
    row('footprint', 'agent idle CPU', '%', [((c1 - c0) / R(10_000, 3_000)) * 100]);
  }
  for (const a of w.agents.values()) await a.kill();
  w.agents.clear();

  // 5. 1,000 simulated agents through the real controller.
  const sims = await w.startSimulated('sim', 1000);
  const sim1000 = row(
    'fan-out 1000 simulated agents',
    'all results stored (HTTP wait)',
    'ms',
    await timeRounds(R(15, 3), 3, () => w.runWait('true', sims).then(() => undefined)),
  );

  // 6. Sustained throughput, simulated agents, every result stored.
  {
    const secs = R(60, 5);
    const until = Date.now() + secs * 1000;
    let done = 0;
    const worker = async (k: number) => {
      const hosts = sims.slice(k * 100, k * 100 + 100);
      while (Date.now() < until) {
        await w.runWait('true', hosts);
        done += hosts.length;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, (_, k) => worker(k)));
    row('throughput', `invocations/s for ${secs} s, simulated agents, all stored`, 'inv/s', [
      (done * 1000) / (performance.now() - t0),
    ]);
  }

  // 6b. 5,000 simulated agents: the 1,000 above and 4,000 more in two processes (2,500 at most per
  // process, as in bench/scale.ts), stopped again after the row. Not in a quick run. A failure here
  // (a host not succeeded, no answer) is reported after the table rather than losing the run.
  const simulated = new Map<number, Row>([[1000, sim1000]]);
  if (!QUICK) {
    log('starting 4,000 more simulated agents (about a minute: the broker declares their queues)');
    try {
      const more = await Promise.all([w.startSimulated('simb', 2500), w.startSimulated('simc', 1500)]);
      const hosts = [...sims, ...more.flat()];
      // No warm-up round: the first 1,000 have run tasks already, and each round is seconds.
      const xs = await timeRounds(3, 0, () => w.runWait('true', hosts).then(() => undefined));
      simulated.set(5000, row('fan-out 5000 simulated agents', 'all results stored (HTTP wait)', 'ms', xs));
    } catch (err) {
      const why = [(err as Error).message, ...w.complaints()].join('\n  ');
      failures.push(`fan-out 5000 simulated agents: ${why}`);
      log(`fan-out 5000 simulated agents failed: ${why}`);
    } finally {
      await w.stopSimulated('simb');
      await w.stopSimulated('simc');
    }
  }

  // 7. Controller memory per 10,000 in-flight invocations (hosts whose inboxes nobody reads).
  {
    const silent = await w.declareSilentHosts('mute', 100);
    const pid = w.controller!.child.pid!;
    await sleep(1_000);
    const before = rss(pid);
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${w.url}/v1/tasks`, {
        method: 'POST',
        headers: w.headers(),
        body: JSON.stringify({ command: 'true', hosts: silent, deliveryTimeoutMs: 600_000 }),
      });
      if (res.status !== 202) throw new Error(`POST → ${res.status}`);
    }
    await sleep(1_000);
    row('footprint', 'controller RSS growth per 10,000 in-flight', 'MiB', [(rss(pid) - before) / 2 ** 20], {
      note: 'RSS, an upper bound on heap growth',
    });
    // Broker memory of an idle host queue (empty ones: the `ag…` inboxes of stopped agents).
    const out = execFileSync('rabbitmqctl', ['list_queues', '-q', 'name', 'memory', 'messages'], { encoding: 'utf8' });
    const idle = out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[0]?.startsWith(`${w.ns}.agent.ag`) && f[2] === '0')
      .map((f) => Number(f[1]) / 1024);
    if (idle.length > 0) row('footprint', 'broker memory per idle host queue', 'KiB', idle);
  }

  // 8. Growth: the marginal cost of one more host between consecutive sizes, from the medians above.
  growthRows(fanout, 'real');
  growthRows(simulated, 'simulated');
  return failures;
}

/** One `growth` row per pair of consecutive sizes: (t(N2) − t(N1)) / (N2 − N1), in ms per host. */
function growthRows(bySize: Map<number, Row>, kind: string): void {
  const sizes = [...bySize.keys()].sort((a, b) => a - b);
  for (let i = 1; i < sizes.length; i++) {
    const [n1, n2] = [sizes[i - 1], sizes[i]];
    const marginal = (bySize.get(n2)!.median - bySize.get(n1)!.median) / (n2 - n1);
    row('growth', `${n1.toLocaleString('en')}→${n2.toLocaleString('en')} ${kind}`, 'ms/host', [marginal], {
      note: 'marginal cost per host, from the medians of the HTTP wait rows',
    });
  }
}

/** The event-loop block of one spawn in the agent's runner, measured in this process. */
async function spawnBlockRows(): Promise<void> {
  const runner = new ProcessRunner({ baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, maxOutputBytes: 1 << 20 });
  const blocks: number[] = [];
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  for (let i = 0; i < R(200, 30); i++) {
    const t0 = performance.now();
    const run = runner.start({ command: 'true', cwd: null, env: {}, timeoutMs: 10_000, killGraceMs: 1_000 });
    blocks.push(performance.now() - t0);
    await run.outcome;
  }
  h.disable();
  row('footprint', 'event-loop block of one spawn (agent runner)', 'ms', blocks);
}

async function peerRows(): Promise<Map<string, number>> {
  const best = new Map<string, number>();
  log('setting up the SSH peers (sshd on 127.0.0.1:2222)');
  setupPeers();
  try {
    for (const n of QUICK ? [1, 10] : [1, 10, 50, 100]) {
      for (const p of peerCommands(n, FANOUT_COMMAND)) {
        // Large N costs seconds a run (ansible: tens of seconds): fewer rounds, to keep the bench under 15 min.
        const big = n >= 50;
        const rounds = big ? (p.tool === 'ansible' ? 1 : R(3, 1)) : R(5, 2);
        const xs = await timeRounds(rounds, big ? 0 : 1, () => runCommand(p.argv, p.env));
        const r = row(`peers N=${n}`, `${p.tool} (parallelism ${p.parallelism === 'N' ? n : 'default'})`, 'ms', xs);
        best.set(`${n}`, Math.min(best.get(`${n}`) ?? Infinity, r.median));
      }
    }
  } finally {
    teardownPeers();
  }
  return best;
}

/** The fleet section (BENCH_ONLY=fleet): floors, one controller with real and simulated agents, the SSH peers. */
async function fleetRows(versions: Record<string, string>): Promise<string[]> {
  row('floor', 'spawn + exit of /bin/sh -c true', 'ms', await shSpawnExit(R(200, 30)));
  row(
    'floor',
    'broker round trip (publish → consume, one connection)',
    'ms',
    await brokerRoundTrip(BROKER, R(300, 30)),
  );
  row('floor', 'append + fsync of one journal line', 'ms', await fsyncAppend(R(200, 30)));
  row('floor', 'SQLite commit (WAL, synchronous=FULL)', 'ms', await sqliteCommit(R(200, 30)));
  row(
    'security',
    'Ed25519 sign of one command envelope (controller, per host)',
    'µs',
    await signEnvelope(R(2000, 300)),
  );
  row('security', 'verify one signed envelope (agent, before parsing)', 'µs', await verifyEnvelope(R(2000, 300)));
  await spawnBlockRows();
  const w = new BenchWarren();
  let failures: string[];
  try {
    await w.startController();
    failures = await warrenRows(w);
  } finally {
    await w.teardown();
  }
  if (process.env.BENCH_NO_PEERS !== '1') {
    const best = await peerRows();
    Object.assign(versions, peerVersions());
    // Ratios: Warren's CLI wall-clock (the same measure as the peers') against the fastest peer.
    for (const r of rows.filter((x) => x.name === 'CLI warren run --wait')) {
      const n = r.group === '1 host, true' ? '1' : /fan-out (\d+) real/.exec(r.group)?.[1];
      const peer = n ? best.get(n) : undefined;
      if (peer) r.vs = { name: `fastest SSH peer at N=${n}`, ratio: peer / r.median };
    }
  }
  return failures;
}

const SECTIONS = ['fleet', 'control-plane', 'queues', 'files', 'scale', 'console'];
/** Whether this run includes `section` (all of them unless BENCH_ONLY names one). */
const runs = (section: string) => ONLY === undefined || ONLY === section;

async function main(older: Results | null): Promise<void> {
  const started = Date.now();
  const versions: Record<string, string> = { node: process.version };
  if (ONLY !== undefined && !SECTIONS.includes(ONLY))
    throw new Error(`BENCH_ONLY must be ${SECTIONS.join(', ')}, got ${JSON.stringify(ONLY)}`);
  // Checked before anything runs, so that a typo does not cost a whole run.
  const setups = planeSetups(process.env.BENCH_PLANE_DB);
  const fleetFailures = runs('fleet') ? await fleetRows(versions) : [];
  if (runs('files')) await fileCopyRows({ quick: QUICK, peers: process.env.BENCH_NO_PEERS !== '1', row, log });
  const scaleFailures = runs('scale') ? (await scaleRows({ quick: QUICK, row, log })).failures : [];
  if (runs('console')) await consoleRows({ quick: QUICK, row, log });
  const plane = runs('control-plane')
    ? await controlPlaneRows({ quick: QUICK, setups, row, log })
    : { targets: [], failures: [] };
  if (runs('queues')) plane.failures.push(...(await queueRows({ quick: QUICK, row, log })).failures);
  plane.failures.push(...fleetFailures, ...scaleFailures);
  try {
    versions.rabbitmq =
      /RabbitMQ version: (\S+)/.exec(execFileSync('rabbitmqctl', ['status'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    versions.rabbitmq = '?';
  }
  const table = renderTable(rows);
  const meta = {
    date: new Date().toISOString(),
    quick: QUICK,
    cores: (await import('node:os')).cpus().length,
    versions,
    seconds: Math.round((Date.now() - started) / 1000),
    only: ONLY ?? null,
  };
  process.stdout.write(
    `\nWarren benchmark, ${meta.date} (${meta.cores} cores, ${meta.seconds} s${QUICK ? ', QUICK' : ''})\n${JSON.stringify(versions)}\n\n${table}\n`,
  );
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  process.stdout.write(renderTargets(plane.targets));
  const file = join(ROOT, 'bench/results', `bench-${meta.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ...meta, rows, targets: plane.targets, failures: plane.failures }, null, 2));
  process.stdout.write(`\n(written to ${file})\n`);
  if (older) process.stdout.write(`\n${renderComparison(older, { ...meta, rows })}`);
  if (plane.failures.length > 0) {
    process.stderr.write(`\nbench failed: a configuration could not run\n${plane.failures.join('\n')}\n`);
    process.exitCode = 1;
  }
}

/**
 * Arguments: none (a run); `--compare <older.json>` (a run, then its rows against that file's); or
 * `--compare <older.json> <newer.json>` (no run: the two files compared, as bench/compare.ts does).
 */
function parseArgs(args: string[]): { older: Results | null; standalone: string[] | null } {
  if (args.length === 0) return { older: null, standalone: null };
  if (args[0] !== '--compare' || args.length < 2 || args.length > 3)
    throw new CompareArgumentError(
      `usage: tsx bench/run.ts [--compare <older results json> [<newer results json>]], got ${JSON.stringify(args)}`,
    );
  if (args.length === 3) return { older: null, standalone: args.slice(1) };
  // Read before the run, so that a wrong path does not cost one.
  return { older: loadResults(args[1]), standalone: null };
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
}
if (parsed.standalone) process.exitCode = compareMain(parsed.standalone);
else
  main(parsed.older).catch((err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
