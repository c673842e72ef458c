/**
 * `npm run bench`: Warren against pssh, pdsh, clush and ansible on this machine, in one run.
 * Prints one table and writes it as JSON under bench/results/. See docs/performance.md.
 *
 * Environment: BENCH_QUICK=1 for fewer rounds (a smoke run), BENCH_NO_PEERS=1 to skip the SSH peers,
 * BENCH_ONLY=control-plane for the control-plane section alone (SQLite and PostgreSQL, one to three
 * controllers: bench/control-plane.ts, docs/scaling.md), BENCH_PLANE_DB=sqlite-file to run its
 * multi-controller setups on one shared SQLite file instead of PostgreSQL; BENCH_ONLY=queues for the
 * quorum-against-classic part alone (a private 3-node RabbitMQ cluster: bench/queues.ts).
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
import { brokerRoundTrip, fsyncAppend, shSpawnExit, signEnvelope, sqliteCommit, verifyEnvelope } from './floor';
import { BenchWarren, BROKER } from './warren';

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

async function warrenRows(w: BenchWarren): Promise<void> {
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
  row(
    '1 host, true',
    'CLI process start (warren --version)',
    'ms',
    await timeRounds(R(30, 5), 3, () => cli(['--version'])),
  );

  // 2. Fan-out to real agents.
  const agents = await w.startAgents('ag', QUICK ? 10 : 100);
  for (const n of QUICK ? [10] : [10, 50, 100]) {
    const hosts = agents.slice(0, n);
    row(
      `fan-out ${n} real agents`,
      'all results stored (HTTP wait)',
      'ms',
      await timeRounds(R(15, 3), 2, () => w.runWait(FANOUT_COMMAND, hosts).then(() => undefined)),
    );
    row(
      `fan-out ${n} real agents`,
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
  row(
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

/** Everything but the control plane: floors, one controller with real and simulated agents, the SSH peers. */
async function fleetRows(versions: Record<string, string>): Promise<void> {
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
  try {
    await w.startController();
    await warrenRows(w);
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
}

async function main(): Promise<void> {
  const started = Date.now();
  const versions: Record<string, string> = { node: process.version };
  if (ONLY !== undefined && ONLY !== 'control-plane' && ONLY !== 'queues')
    throw new Error(`BENCH_ONLY must be control-plane or queues, got ${JSON.stringify(ONLY)}`);
  // Checked before anything runs, so that a typo does not cost a whole run.
  const setups = planeSetups(process.env.BENCH_PLANE_DB);
  if (ONLY === undefined) await fleetRows(versions);
  const plane =
    ONLY === 'queues' ? { targets: [], failures: [] } : await controlPlaneRows({ quick: QUICK, setups, row, log });
  if (ONLY === undefined || ONLY === 'queues')
    plane.failures.push(...(await queueRows({ quick: QUICK, row, log })).failures);
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
  if (plane.failures.length > 0) {
    process.stderr.write(`\nbench failed: a configuration could not run\n${plane.failures.join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
