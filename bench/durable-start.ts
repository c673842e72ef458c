/**
 * What issue 12's durable start and durable results cost one invocation on the agent, measured in
 * this process against the real broker (`WARREN_BROKER`, default the local one) and the real disk
 * under the OS temp directory (where `--state-dir` usually lives):
 * - before the spawn: `started` published persistent to a durable queue and its confirm awaited,
 *   then the spawn mark appended and fsynced (the agent's exact sequence);
 * - before the result goes out: the outcome and the whole result (1 KiB here) appended and fsynced.
 * Prints a table of medians and p99s in ms. `tsx bench/durable-start.ts [rounds]` (default 300).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { shSpawnExit } from './floor';
import { quantile, type Row, renderTable, timeRounds } from './lib';

const url = process.env.WARREN_BROKER ?? 'amqp://guest:guest@127.0.0.1:5672';
const rounds = Number(process.argv[2] ?? 300);

async function main(): Promise<void> {
  const conn = await amqplib.connect(url, { noDelay: true });
  const ch = await conn.createConfirmChannel();
  const queue = `bench.durable-start.${randomBytes(4).toString('hex')}`;
  await ch.assertQueue(queue, { durable: true });
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-journal-'));
  const fd = openSync(join(dir, 'journal.log'), 'a', 0o600);
  const started = Buffer.from(
    JSON.stringify({
      v: 1,
      kind: 'started',
      invocationId: randomBytes(16).toString('hex'),
      taskId: 't_x',
      host: 'web01',
      startedAt: Date.now(),
      pid: null,
    }),
  );
  const mark = `${JSON.stringify({ id: randomBytes(16).toString('hex'), exp: Date.now(), spawn: true })}\n`;
  const result = `${JSON.stringify({ id: 'x', exp: 0, out: {}, res: { data: 'y'.repeat(900) } })}\n`;
  const confirm = () =>
    new Promise<void>((res, rej) =>
      ch.publish('', queue, started, { persistent: true }, (err) => (err ? rej(err) : res())),
    );
  const fsyncLine = (line: string) => {
    writeSync(fd, line);
    fsyncSync(fd);
  };
  try {
    const confirmMs = await timeRounds(rounds, 20, confirm);
    const markMs = await timeRounds(rounds, 20, async () => fsyncLine(mark));
    const startMs = await timeRounds(rounds, 20, async () => {
      await confirm();
      fsyncLine(mark);
    });
    const resultMs = await timeRounds(rounds, 20, async () => fsyncLine(result));
    const spawnMs = await shSpawnExit(Math.min(rounds, 200));
    const row = (name: string, xs: number[], note?: string): Row => ({
      group: 'durable start',
      name,
      unit: 'ms',
      median: quantile(xs, 0.5),
      p99: quantile(xs, 0.99),
      rounds: xs.length,
      note,
    });
    const rows = [
      row('`started` published, confirm awaited', confirmMs),
      row('spawn mark appended + fsync', markMs),
      row('added before the spawn (both, in turn)', startMs, 'the latency issue 12 adds to every invocation'),
      row('result (1 KiB) appended + fsync', resultMs, 'added before the result is published'),
      row('for scale: /bin/sh -c true, spawn to exit', spawnMs),
    ];
    console.log(renderTable(rows));
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    await ch.deleteQueue(queue).catch(() => undefined);
    await conn.close();
  }
}

void main();
