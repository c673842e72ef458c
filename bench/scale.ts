/**
 * `BENCH_ONLY=scale npm run bench`: one task to 1,000 … 10,000 simulated hosts (issue "One task to
 * 10,000 hosts", docs/performance.md "Scale"), each size three times in a row, against the same
 * fleet answered without a controller (the floor: the broker and the simulators alone).
 *
 * Everything runs on a private RabbitMQ node of its own (`test/support/private-broker.ts`), started
 * with `+sbwt none +sbwtdcpu none +sbwtdio none`: no scheduler busy-waiting, as RabbitMQ's
 * runtime-tuning guide advises where the broker shares its cores with other busy processes (here:
 * the controller and the simulators, on two cores). The shared broker is never touched.
 *
 * Per round it records the wall time of `POST /v1/tasks` with `wait: true` until every result is
 * stored, the CPU time of the controller, the broker and the simulators, the controller's peak RSS,
 * its event-loop delay (the largest, from prom-client's `nodejs_eventloop_lag_max_seconds`, reset
 * at each scrape), and the slowest answer of `/healthz` probed every 100 ms meanwhile.
 *
 * Environment: BENCH_SCALE_SIZES (default `1000,2500,5000,10000`; QUICK: `1000,2000`),
 * BENCH_SCALE_PROFILE=<dir> to write the controller's `--cpu-prof` there (at its SIGTERM).
 */
import * as amqplib from 'amqplib';
import {
  APP_ID,
  commandExchange,
  encode,
  MESSAGE_TYPES,
  readSigningKeyFile,
  repliesExchange,
  signBody,
} from '@warren/protocol';
import { PrivateBroker } from '../test/support/private-broker';
import { cpuMs, type Row, rss, sleep } from './lib';
import { BenchWarren } from './warren';

/** Hosts one simulator process answers for: four processes for 10,000, so that none is the bottleneck. */
const HOSTS_PER_SIMULATOR = 2_500;
/** ms between two probes of `/healthz` (and RSS samples) during a task */
const PROBE_MS = 100;

/** What the scale section needs of the bench's runner. */
export interface ScaleContext {
  quick: boolean;
  row: (group: string, name: string, unit: string, xs: number[], extra?: Partial<Row>) => Row;
  log: (msg: string) => void;
}

/** One round of one task, as measured. */
interface Round {
  ms: number;
  controllerCpuMs: number;
  brokerCpuMs: number;
  simulatorsCpuMs: number;
  peakRssMiB: number;
  loopMaxMs: number;
  healthzMaxMs: number;
  byState: Record<string, number>;
}

/** The scale section; returns the failures (a round where a host did not succeed) to report. */
export async function scaleRows(ctx: ScaleContext): Promise<{ failures: string[] }> {
  const sizes = (process.env.BENCH_SCALE_SIZES ?? (ctx.quick ? '1000,2000' : '1000,2500,5000,10000'))
    .split(',')
    .map(Number);
  const largest = Math.max(...sizes);
  const failures: string[] = [];
  ctx.log('scale: starting a private RabbitMQ node (+sbwt none)');
  const broker = await PrivateBroker.start({
    erlArgs: '+sbwt none +sbwtdcpu none +sbwtdio none',
    startTimeoutMs: 120_000,
  });
  const profile = process.env.BENCH_SCALE_PROFILE;
  const w = new BenchWarren({
    broker: broker.url(),
    controllerNodeArgs: profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [],
  });
  try {
    await w.startController();
    const processes = Math.ceil(largest / HOSTS_PER_SIMULATOR);
    ctx.log(`scale: ${largest} simulated hosts in ${processes} processes`);
    const prefixes = Array.from({ length: processes }, (_, i) => `s${String.fromCharCode(97 + i)}`);
    const groups = await Promise.all(
      prefixes.map((p, i) => w.startSimulated(p, Math.min(HOSTS_PER_SIMULATOR, largest - i * HOSTS_PER_SIMULATOR))),
    );
    const readyMs = Math.max(...w.simTimings.map((t) => t.readyMs));
    const onlineMs = Math.max(...w.simTimings.map((t) => t.onlineMs));
    ctx.row(`scale ${largest} simulated hosts`, 'simulators ready (every queue declared and consumed)', 's', [
      readyMs / 1000,
    ]);
    ctx.row(`scale ${largest} simulated hosts`, 'all online, from the last simulator ready', 's', [
      (onlineMs - readyMs) / 1000,
    ]);
    // Interleaved, so that any size's hosts span every simulator process.
    const hosts: string[] = [];
    for (let i = 0; i < HOSTS_PER_SIMULATOR; i++) for (const g of groups) if (g[i]) hosts.push(g[i]);
    const simPids = () => w.simulatorPids();
    const beam = broker.beamPid();
    if (!beam) throw new Error('the private broker has no beam process');
    const floor = await FloorDriver.open(broker.url(), w);
    try {
      for (const n of sizes) {
        const targets = hosts.slice(0, n);
        const rounds: Round[] = [];
        const floors: number[] = [];
        for (let r = 0; r < 3; r++) {
          floors.push(await floor.run(targets));
          const round = await measure(w, targets, beam, simPids);
          rounds.push(round);
          ctx.log(
            `scale ${n}: round ${r + 1} ${round.ms.toFixed(0)} ms (floor ${floors.at(-1)!.toFixed(0)} ms) ${JSON.stringify(round.byState)}`,
          );
          if ((round.byState.succeeded ?? 0) !== n)
            failures.push(`scale ${n} round ${r + 1}: ${JSON.stringify(round.byState)}`);
        }
        const g = `scale: one task to ${n} simulated hosts`;
        const f = ctx.row(g, 'floor: the broker and simulators alone (no controller)', 'ms', floors);
        const all = ctx.row(
          g,
          'all results stored (HTTP wait), rounds 1-3',
          'ms',
          rounds.map((x) => x.ms),
        );
        all.vs = { name: 'the floor', ratio: all.median / f.median };
        ctx.row(g, 'round 3 / round 1', 'x', [rounds[2].ms / rounds[0].ms]);
        ctx.row(
          g,
          'per host',
          'ms',
          rounds.map((x) => x.ms / n),
        );
        ctx.row(
          g,
          'controller CPU per host',
          'ms',
          rounds.map((x) => x.controllerCpuMs / n),
        );
        ctx.row(
          g,
          'broker CPU per host',
          'ms',
          rounds.map((x) => x.brokerCpuMs / n),
        );
        ctx.row(
          g,
          'simulators CPU per host',
          'ms',
          rounds.map((x) => x.simulatorsCpuMs / n),
        );
        ctx.row(
          g,
          'controller peak RSS',
          'MiB',
          rounds.map((x) => x.peakRssMiB),
        );
        ctx.row(
          g,
          'controller event-loop delay, max',
          'ms',
          rounds.map((x) => x.loopMaxMs),
        );
        ctx.row(
          g,
          '/healthz slowest answer during the task',
          'ms',
          rounds.map((x) => x.healthzMaxMs),
        );
      }
    } finally {
      await floor.close();
    }
  } finally {
    // A profile is written when the controller exits on a signal it handles.
    if (profile) await w.controller?.kill('SIGTERM');
    await w.teardown();
    await broker.destroy();
  }
  return { failures };
}

/** One task with `wait`, probed meanwhile. */
async function measure(w: BenchWarren, hosts: string[], beam: number, simPids: () => number[]): Promise<Round> {
  const pid = w.controller!.child.pid!;
  await w.counter(w.url, 'warren_controller_nodejs_eventloop_lag_max_seconds'); // resets the histogram
  const cpu = () => ({ c: cpuMs(pid), b: cpuMs(beam), s: simPids().reduce((a, p) => a + cpuMs(p), 0) });
  const c0 = cpu();
  let peak = rss(pid);
  let healthzMax = 0;
  let done = false;
  const probe = (async () => {
    while (!done) {
      const t = performance.now();
      await fetch(`${w.url}/healthz`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
      healthzMax = Math.max(healthzMax, performance.now() - t);
      peak = Math.max(peak, rss(pid));
      await sleep(PROBE_MS);
    }
  })();
  const t0 = performance.now();
  const task = await w.runWait('true', hosts, {}, w.url, 600_000, false);
  const ms = performance.now() - t0;
  done = true;
  await probe;
  const c1 = cpu();
  const loop = await w.counter(w.url, 'warren_controller_nodejs_eventloop_lag_max_seconds');
  return {
    ms,
    controllerCpuMs: c1.c - c0.c,
    brokerCpuMs: c1.b - c0.b,
    simulatorsCpuMs: c1.s - c0.s,
    peakRssMiB: peak / 2 ** 20,
    loopMaxMs: loop * 1000,
    healthzMaxMs: healthzMax,
    byState: task.summary.byState,
  };
}

/**
 * The same fleet answering without a controller: signed commands published straight to the
 * simulated hosts' inboxes (with the controller's key, which they trust), their `started` and result
 * replies read from a queue of the driver's own, bound to the replies exchange under its own
 * routing key (the controller's results queue never sees them). A round's time is from the first
 * publish to the last reply.
 */
class FloorDriver {
  private constructor(
    private readonly conn: amqplib.ChannelModel,
    private readonly ch: amqplib.ConfirmChannel,
    private readonly w: BenchWarren,
    private readonly queue: string,
  ) {}

  static async open(url: string, w: BenchWarren): Promise<FloorDriver> {
    const conn = await amqplib.connect(url, { noDelay: true });
    const ch = await conn.createConfirmChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, repliesExchange(w.ns), q.queue);
    return new FloorDriver(conn, ch, w, q.queue);
  }

  async run(hosts: string[]): Promise<number> {
    const key = readSigningKeyFile(`${this.w.dir}/controller.key`);
    const taskId = `floor${Date.now()}`;
    let replies = 0;
    let resolve!: () => void;
    const all = new Promise<void>((r) => (resolve = r));
    const { consumerTag } = await this.ch.consume(
      this.queue,
      (m) => {
        if (!m) return;
        this.ch.ack(m);
        if (++replies === 2 * hosts.length) resolve();
      },
      { noAck: false },
    );
    const t0 = performance.now();
    const now = Date.now();
    for (const host of hosts) {
      const body = encode({
        v: 1,
        kind: 'command',
        invocationId: `${taskId}-${host}`,
        taskId,
        host,
        namespace: this.w.ns,
        agentKeyId: 'floor',
        command: 'true',
        runAs: null,
        cwd: null,
        env: {},
        timeoutMs: 60_000,
        killGraceMs: 5_000,
        issuedAt: now,
        expiresAt: now + 60_000,
        replyTo: this.queue,
      });
      const ok = this.ch.publish(commandExchange(this.w.ns), host, body, {
        headers: signBody(body, key),
        persistent: true,
        mandatory: true,
        expiration: '60000',
        correlationId: `${taskId}-${host}`,
        type: MESSAGE_TYPES.command,
        contentType: 'application/json',
        appId: APP_ID,
      });
      if (!ok) await new Promise((r) => this.ch.once('drain', r));
    }
    await this.ch.waitForConfirms();
    await Promise.race([
      all,
      sleep(300_000).then(() => {
        throw new Error(`floor: ${replies} of ${2 * hosts.length} replies within 300 s`);
      }),
    ]);
    const ms = performance.now() - t0;
    await this.ch.cancel(consumerTag);
    return ms;
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}
