/**
 * The `queues` part of `npm run bench` (`BENCH_ONLY=queues` alone): quorum against classic queues
 * in one run, on one private 3-node RabbitMQ cluster (test/support/rabbit-cluster.ts; the shared
 * broker is not touched). See docs/scaling.md, "A RabbitMQ cluster".
 *
 * Both installations run on the same three nodes, every process given all three URLs, node 1
 * first: the classic queues therefore all live on node 1 (a classic queue lives on the node of the
 * client that declared it), the quorum queues lead on node 1 (RabbitMQ's default leader locator,
 * client-local) with followers on nodes 2 and 3. The two installations run side by side (a
 * namespace each) and are measured in turns, so the only difference between them is the queue
 * type, not the machine's load: the same three VMs, the same neighbours, for both.
 */
import type { QueueType } from '@warren/protocol';
import { type RabbitCluster, startRabbitCluster } from '../test/support/rabbit-cluster';
import { sustained } from './control-plane';
import { quantile, type Row } from './lib';
import { classicNodeDown, failoverTrials, memoryPerHost, reconnectTrial } from './queue-faults';
import { BenchWarren } from './warren';

type RowFn = (group: string, name: string, unit: string, xs: number[], extra?: Partial<Row>) => Row;

/** Sizes of the part: `quick` is the smoke run of `BENCH_QUICK=1`. */
function sizes(quick: boolean) {
  return {
    oneHost: { rounds: quick ? 20 : 200, warmup: quick ? 5 : 20 },
    thousand: { rounds: quick ? 2 : 5, warmup: 1 },
    /** s of sustained load: 8 clients, each sending tasks of 100 simulated hosts */
    sustainedSec: quick ? 5 : 20,
    /** idle hosts declared to measure memory */
    memoryHosts: quick ? 20 : 100,
    /** trials of each failover (stop, kill) */
    failovers: quick ? 1 : 3,
    /** trials of the reconnect measure, each of {@link RECONNECT_AGENTS} agents */
    reconnects: quick ? 1 : 2,
  };
}

const SIM_HOSTS = 1000;
/** the sustained load runs in this many blocks per installation, the two alternating */
const SUSTAINED_BLOCKS = 4;
const RECONNECT_AGENTS = 50;
/** ms; a one-host task not answered within it fails the installation */
const ONE_HOST_TIMEOUT_MS = 30_000;
const THOUSAND_TIMEOUT_MS = 120_000;
const TYPES: readonly QueueType[] = ['classic', 'quorum'];
const LABEL: Record<QueueType, string> = {
  classic: 'classic (every queue on node 1)',
  quorum: 'quorum (3 replicas, leaders on node 1)',
};

/** What one installation measured. */
interface Installation {
  type: QueueType;
  oneHost: number[];
  thousand: number[];
  invPerSec: number;
}

/**
 * Both installations at once on the cluster, each a controller of its own namespace; measured in
 * turns, round by round (one-host and 1,000-host tasks) or block by block (sustained load), so that
 * whatever else loads the machine meanwhile falls on both alike.
 */
async function measureInstallations(cluster: RabbitCluster, size: ReturnType<typeof sizes>): Promise<Installation[]> {
  const ws = TYPES.map((type) => new BenchWarren({ queueType: type, broker: cluster.urls.join(',') }));
  const task = (w: BenchWarren, hosts: string[], timeoutMs: number) =>
    w.runWait('true', hosts, {}, w.url, timeoutMs).then(() => undefined);
  try {
    for (const w of ws) await w.startController();
    // One host: a real agent each (spawn, journal, confirmed `started`).
    const ones = await Promise.all(ws.map((w) => w.startAgents('one', 1).then(([h]) => h)));
    const oneHost = await inTurns(ws.length, size.oneHost, (k) => task(ws[k], [ones[k]], ONE_HOST_TIMEOUT_MS));
    for (const w of ws) for (const a of w.agents.values()) await a.kill();
    // 1,000 simulated agents each.
    const sims: string[][] = [];
    for (const w of ws) sims.push(await w.startSimulated('sim', SIM_HOSTS));
    const thousand = await inTurns(ws.length, size.thousand, (k) => task(ws[k], sims[k], THOUSAND_TIMEOUT_MS));
    const rates: number[][] = ws.map(() => []);
    for (let b = 0; b < SUSTAINED_BLOCKS; b++)
      for (let j = 0; j < ws.length; j++) {
        const k = b % 2 === 0 ? j : ws.length - 1 - j;
        const slice = (c: number) => sims[k].slice(c * 100, (c + 1) * 100);
        rates[k].push(
          await sustained(size.sustainedSec / SUSTAINED_BLOCKS, (c) => task(ws[k], slice(c), THOUSAND_TIMEOUT_MS)),
        );
      }
    return TYPES.map((type, k) => ({
      type,
      oneHost: oneHost[k],
      thousand: thousand[k],
      invPerSec: rates[k].reduce((a, b) => a + b, 0) / rates[k].length,
    }));
  } catch (err) {
    throw new Error([(err as Error).message, ...ws.flatMap((w) => w.complaints())].join('\n    '), { cause: err });
  } finally {
    for (const w of ws) await w.teardown().catch(() => undefined);
  }
}

/**
 * `n` alternatives measured in turns: `size.warmup` uncounted rounds of each, then `size.rounds`
 * rounds in which each runs once, the order reversed every other round. ms, per alternative.
 */
async function inTurns(
  n: number,
  size: { rounds: number; warmup: number },
  fn: (k: number) => Promise<void>,
): Promise<number[][]> {
  for (let i = 0; i < size.warmup; i++) for (let k = 0; k < n; k++) await fn(k);
  const out: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < size.rounds; i++)
    for (let j = 0; j < n; j++) {
      const k = i % 2 === 0 ? j : n - 1 - j;
      const t0 = performance.now();
      await fn(k);
      out[k].push(performance.now() - t0);
    }
  return out;
}

/** The side-by-side rows of the two installations; ratios are quorum / classic. */
function installationRows(res: Installation[], row: RowFn): void {
  const classic = res.find((r) => r.type === 'classic');
  const vs = (r: Installation, mine: number, theirs: number, what: string): Partial<Row> =>
    classic && r !== classic ? { baseline: { name: `${what} of classic`, ratio: mine / theirs } } : {};
  for (const r of res) {
    const p99 = quantile(r.oneHost, 0.99);
    row('queues: 1 host, HTTP POST wait:true, real agent', LABEL[r.type], 'ms', r.oneHost, {
      ...vs(r, quantile(r.oneHost, 0.5), classic ? quantile(classic.oneHost, 0.5) : 0, 'p50'),
      ...(classic && r !== classic ? { note: `p99 ${(p99 / quantile(classic.oneHost, 0.99)).toFixed(2)}×` } : {}),
    });
  }
  for (const r of res)
    row(`queues: ${SIM_HOSTS} simulated agents, all results stored`, LABEL[r.type], 'ms', r.thousand, {
      ...vs(r, quantile(r.thousand, 0.5), classic ? quantile(classic.thousand, 0.5) : 0, 'median'),
    });
  for (const r of res)
    row('queues: sustained invocations/s, 8 clients × 100 simulated hosts', LABEL[r.type], 'inv/s', [r.invPerSec], {
      ...vs(r, r.invPerSec, classic?.invPerSec ?? 0, 'inv/s'),
    });
}

/** Memory of idle hosts, per node, for both types. */
async function memoryRows(cluster: RabbitCluster, size: ReturnType<typeof sizes>, row: RowFn): Promise<void> {
  for (const type of TYPES) {
    const perHost = await memoryPerHost(cluster, `benchmem${type}`, type, size.memoryHosts);
    perHost.forEach((bytes, k) =>
      row(
        'queues: broker memory per idle host (inbox + control queue)',
        `${type}, node ${k + 1}`,
        'KiB',
        [bytes / 1024],
        {
          note: `the node's Erlang memory after a full GC, ${size.memoryHosts} hosts declared, divided`,
        },
      ),
    );
  }
}

/** Failover of the quorum results queue (stop, kill), and the classic one's node down, for contrast. */
async function failoverRows(cluster: RabbitCluster, size: ReturnType<typeof sizes>, row: RowFn): Promise<void> {
  for (const how of ['stop', 'kill'] as const) {
    const { trials, lost } = await failoverTrials(cluster, `benchfo${how}`, how, size.failovers);
    const what = how === 'stop' ? 'stopped (rabbitmqctl stop)' : 'SIGKILLed';
    const group = `queues: failover, leader of quorum <ns>.results ${what}`;
    row(
      group,
      'longest wait for a publish confirm (another node)',
      'ms',
      trials.map((t) => t.longestWaitMs),
    );
    row(
      group,
      'fault → first confirm of a publish sent after it',
      'ms',
      trials.map((t) => t.faultToConfirmMs),
      {
        note: `${trials.reduce((a, t) => a + t.confirmed, 0)} confirmed, ${lost} of them missing from the queue`,
      },
    );
  }
  const down = await classicNodeDown(cluster, 'benchfoclassic', cluster.nodes[0]);
  row('queues: classic <ns>.results, its node stopped for 2 s', 'publishes confirmed while it was down', 'msgs', [
    down.confirmedWhileDown,
  ]);
  row('queues: classic <ns>.results, its node stopped for 2 s', 'of them in the queue once its node is back', 'msgs', [
    down.kept,
  ]);
}

async function reconnectRows(cluster: RabbitCluster, size: ReturnType<typeof sizes>, row: RowFn): Promise<void> {
  const times: number[] = [];
  for (let t = 0; t < size.reconnects; t++)
    times.push(...(await reconnectTrial(cluster, `benchrc${t}`, 'rc', RECONNECT_AGENTS, cluster.nodes[2])));
  row(
    `queues: ${RECONNECT_AGENTS} agents (real AmqpConnection, quorum) after their node is SIGKILLed`,
    'kill → consuming again on another node',
    'ms',
    times,
    { note: `${size.reconnects} trials of ${RECONNECT_AGENTS}; p99 column: the slowest` },
  );
}

/**
 * Runs the whole part on a private 3-node cluster started here and destroyed after. Each section
 * that fails is recorded in `failures` (the next one still runs); nothing waits without a bound.
 */
export async function queueRows(opts: {
  quick: boolean;
  row: RowFn;
  log: (msg: string) => void;
}): Promise<{ failures: string[] }> {
  const size = sizes(opts.quick);
  const failures: string[] = [];
  let cluster: RabbitCluster;
  try {
    cluster = await startRabbitCluster({ size: 3 });
  } catch (err) {
    return { failures: [`queues: the private 3-node cluster did not start: ${(err as Error).message}`] };
  }
  opts.log(`queues: private 3-node cluster up in ${cluster.startMs} ms`);
  const section = async (name: string, fn: () => Promise<void>) => {
    opts.log(`queues: ${name}`);
    try {
      await fn();
    } catch (err) {
      failures.push(`queues, ${name}: ${(err as Error).message}`);
      opts.log(`queues: ${name} FAILED: ${(err as Error).message}`);
      // A section that failed mid-fault may leave a node down: the next one needs all three.
      for (const n of cluster.nodes) if (!(await n.running())) await n.start().catch(() => undefined);
    }
  };
  try {
    // First, on a cluster that has held nothing yet: queues deleted just before would still be
    // releasing memory and blur the difference.
    await section('memory per idle host', () => memoryRows(cluster, size, opts.row));
    await section('classic and quorum installations, in turns', async () =>
      installationRows(await measureInstallations(cluster, size), opts.row),
    );
    await section('failover', () => failoverRows(cluster, size, opts.row));
    await section('reconnect', () => reconnectRows(cluster, size, opts.row));
  } finally {
    await cluster.destroy();
  }
  return { failures };
}
