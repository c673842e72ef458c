/**
 * What the events stream costs (docs/streaming.md, "Cost"): run alone on the shared broker with
 * `npx tsx bench/events-stream.ts` (BROKER_URL to point elsewhere). It uses a stream of its own
 * (`benchev<hex>.events`, deleted at the end), declared as controllers declare theirs, and prints a
 * table of medians measured in this one run:
 *
 * - broker disk and memory per MiB of live output appended (chunks as agents send them);
 * - replay: N clients each reading the stream from the start (what every SSE session does for
 *   its task, and a resume), broker and client CPU per client and MiB;
 * - tail: N clients following the stream while output arrives at a steady rate, broker CPU per
 *   client, and the delay from publish to delivery.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { eventsStreamArguments } from '@warren/protocol';
import { cpuMs, quantile, renderTable, type Row, rss, sleep } from './lib';

const BROKER = process.env.BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const STREAM = `benchev${randomBytes(4).toString('hex')}.events`;
const MIB = 1024 * 1024;
/** output appended in the disk/replay phases */
const OUTPUT_MIB = Number(process.env.BENCH_EVENTS_MIB ?? 32);
/** bytes of text per chunk: agents send up to 16 KiB, a line-a-100-ms command far less */
const CHUNK = 4096;
const rows: Row[] = [];
const row = (name: string, unit: string, median: number, p99: number | null = null, note?: string) =>
  rows.push({ group: 'events stream', name, unit, median, p99, rounds: 1, note });

function brokerPid(): number {
  return Number(JSON.parse(execFileSync('rabbitmqctl', ['eval', 'os:getpid().'], { encoding: 'utf8' }).trim()));
}
function streamDirBytes(): number {
  const base = JSON.parse(execFileSync('rabbitmqctl', ['eval', 'rabbit_mnesia:dir().'], { encoding: 'utf8' }).trim());
  const dir = readdirSync(join(base, 'stream')).find((d) => d.startsWith(`__${STREAM.replace(/\./g, '_')}_`));
  if (!dir) return NaN;
  return readdirSync(join(base, 'stream', dir)).reduce((n, f) => n + statSync(join(base, 'stream', dir, f)).size, 0);
}
/** An output reply's body, as an agent would send it (unsigned here: the broker does not look). */
function chunkBody(taskId: string, seq: number, bytes: number): Buffer {
  const data = 'x'.repeat(bytes - 1) + '\n';
  return Buffer.from(
    JSON.stringify({
      v: 1,
      kind: 'output',
      invocationId: `i_${seq % 50}`,
      taskId,
      host: `h${seq % 50}`,
      stream: 'stdout',
      seq,
      offset: seq * bytes,
      data,
      at: Date.now(),
    }),
  );
}

async function readers(
  conn: amqplib.ChannelModel,
  n: number,
  from: unknown,
  onMessage: (m: amqplib.ConsumeMessage) => void,
) {
  const chans: amqplib.Channel[] = [];
  for (let i = 0; i < n; i++) {
    const ch = await conn.createChannel();
    await ch.prefetch(64);
    await ch.consume(STREAM, (m) => m && (onMessage(m), ch.ack(m)), { arguments: { 'x-stream-offset': from } });
    chans.push(ch);
  }
  return { close: () => Promise.all(chans.map((c) => c.close().catch(() => undefined))) };
}

async function main(): Promise<void> {
  const pid = brokerPid();
  const conn = await amqplib.connect(BROKER);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(STREAM, {
    durable: true,
    arguments: eventsStreamArguments({ maxBytes: 256 * MIB, maxAgeSec: 3600 }),
  });
  try {
    // 1. Disk and memory per MiB of output.
    const rssBefore = rss(pid);
    const count = Math.round((OUTPUT_MIB * MIB) / CHUNK);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      ch.sendToQueue(STREAM, chunkBody('t_bench', i, CHUNK), { persistent: true });
      if (i % 500 === 499) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
    const publishS = (performance.now() - t0) / 1000;
    await sleep(1_000);
    row('append, confirmed (4 KiB chunks)', 'msg/s', count / publishS, null, `${OUTPUT_MIB} MiB of output`);
    row('broker disk per MiB of output', 'MiB', streamDirBytes() / MIB / OUTPUT_MIB, null, 'JSON envelope included');
    row(
      'broker RSS growth per MiB of output',
      'MiB',
      (rss(pid) - rssBefore) / MIB / OUTPUT_MIB,
      null,
      'right after appending',
    );

    // 2. Replay: n clients each read everything from the start, filtering by task id as a feed does.
    for (const n of [1, 10, 50]) {
      const needle = '"t_other"';
      let got = 0;
      const b0 = cpuMs(pid);
      const c0 = process.cpuUsage();
      const t1 = performance.now();
      const r = await readers(conn, n, 'first', (m) => {
        got++;
        m.content.includes(needle);
      });
      while (got < n * count) await sleep(20);
      const wallS = (performance.now() - t1) / 1000;
      const c = process.cpuUsage(c0);
      await r.close();
      const perClientMiB = n * OUTPUT_MIB;
      row(
        `replay, ${n} client(s) at once: wall`,
        's',
        wallS,
        null,
        `${(perClientMiB / wallS).toFixed(0)} MiB/s in all`,
      );
      row(`replay, ${n} client(s): broker CPU per client·MiB`, 'ms', (cpuMs(pid) - b0) / perClientMiB);
      row(`replay, ${n} client(s): client CPU per client·MiB`, 'ms', (c.user + c.system) / 1000 / perClientMiB);
    }

    // 3. Tail: n clients follow while output arrives at RATE msg/s of 1 KiB for SECONDS.
    const RATE = 500;
    const SECONDS = 5;
    for (const n of [1, 10, 50]) {
      const delays: number[] = [];
      const r = await readers(conn, n, 'next', (m) => delays.push(Date.now() - JSON.parse(m.content.toString()).at));
      await sleep(300);
      const b0 = cpuMs(pid);
      const t2 = performance.now();
      for (let i = 0; i < RATE * SECONDS; i++) {
        ch.sendToQueue(STREAM, chunkBody('t_live', i, 1024), { persistent: true });
        const due = t2 + ((i + 1) * 1000) / RATE;
        if (due > performance.now()) await sleep(due - performance.now());
      }
      await ch.waitForConfirms();
      while (delays.length < n * RATE * SECONDS) await sleep(20);
      const brokerCpu = (cpuMs(pid) - b0) / ((performance.now() - t2) / 1000) / 10; // % of one core
      await r.close();
      row(`tail ${RATE} msg/s, ${n} client(s): broker CPU`, '% core', brokerCpu);
      row(
        `tail ${RATE} msg/s, ${n} client(s): publish → delivery`,
        'ms',
        quantile(delays, 0.5),
        quantile(delays, 0.99),
      );
    }
  } finally {
    await ch.deleteQueue(STREAM).catch(() => undefined);
    await conn.close();
  }
  console.log(renderTable(rows));
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
