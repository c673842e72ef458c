/**
 * The floor under one invocation on this machine: what no implementation of "run `true` on one
 * host and store the result" can avoid. Measured in this process, reported as bench rows.
 */
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import Database from 'better-sqlite3';
import { generateSigningKey, keyRing, signBody, verifyBody } from '@warren/protocol';
import { timeRounds } from './lib';

/** Spawn + exit of `/bin/sh -c true`, in ms per round. */
export function shSpawnExit(rounds: number): Promise<number[]> {
  return timeRounds(
    rounds,
    10,
    () => new Promise<void>((r) => spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' }).on('exit', () => r())),
  );
}

/**
 * The fan-out's floor: `/bin/sh -c <command>` (as an agent runs it, output read and discarded) `n`
 * times, `parallel` at a time (the machine's cores), no Warren; the wall clock of all `n`, in ms.
 */
export async function commandAlone(command: string, n: number, parallel = 2): Promise<number> {
  const one = () =>
    new Promise<void>((res, rej) => {
      const c = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.resume();
      c.stderr.resume();
      c.on('error', rej);
      c.on('close', (code) => (code === 0 ? res() : rej(new Error(`sh -c ${JSON.stringify(command)} exited ${code}`))));
    });
  let started = 0;
  const lane = async () => {
    while (started < n) {
      started++;
      await one();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  return performance.now() - t0;
}

/** One append + fsync of a 64-byte line (the agent's journal write), in ms. */
export async function fsyncAppend(rounds: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-floor-'));
  const fd = openSync(join(dir, 'j'), 'a');
  const line = Buffer.from(`${'x'.repeat(63)}\n`);
  try {
    return await timeRounds(rounds, 10, async () => {
      writeSync(fd, line);
      fsyncSync(fd);
    });
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One committed single-row UPDATE in SQLite, WAL + synchronous=FULL as the controller runs it, in ms. */
export async function sqliteCommit(rounds: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-floor-'));
  const db = new Database(join(dir, 'db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)');
  db.exec('INSERT INTO t VALUES (1, 0)');
  const upd = db.prepare('UPDATE t SET v = v + 1 WHERE id = 1');
  try {
    return await timeRounds(rounds, 10, async () => void upd.run());
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Publish a persistent message with confirm and consume it back: one broker round trip, in ms. */
export async function brokerRoundTrip(url: string, rounds: number): Promise<number[]> {
  const conn = await amqplib.connect(url, { noDelay: true });
  const pub = await conn.createConfirmChannel();
  const sub = await conn.createChannel();
  const { queue } = await sub.assertQueue('', { exclusive: true });
  let waiter: (() => void) | null = null;
  await sub.consume(queue, () => waiter?.(), { noAck: true });
  try {
    return await timeRounds(rounds, 20, () => {
      const got = new Promise<void>((r) => (waiter = r));
      pub.publish('', queue, Buffer.from('{}'), { persistent: true });
      return got;
    });
  } finally {
    await conn.close();
  }
}

/** A typical signed command envelope and the agent's whole admission check of it, for the security rows. */
function sampleEnvelope() {
  const key = generateSigningKey();
  const m = {
    v: 1,
    kind: 'command',
    invocationId: '7f1c1f55-3a0e-4a55-9d0b-2b1c8a7e9e01',
    taskId: 't_abcdefghijkm',
    host: 'web01',
    namespace: 'warren',
    agentKeyId: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
    command: 'systemctl status nginx --no-pager | head -20',
    runAs: null,
    cwd: null,
    env: { LANG: 'C.UTF-8' },
    timeoutMs: 60_000,
    killGraceMs: 5_000,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    replyTo: 'warren.results',
  };
  const body = Buffer.from(JSON.stringify(m));
  return { key, body, headers: signBody(body, key), ring: keyRing([key]) };
}

/** Ed25519 signature of one command envelope (the controller's cost per host), in µs per envelope. */
export async function signEnvelope(rounds: number): Promise<number[]> {
  const { key, body } = sampleEnvelope();
  const ms = await timeRounds(rounds, 100, async () => void signBody(body, key));
  return ms.map((x) => x * 1000);
}

/** Verification of one signed command envelope (the agent's cost per message, before parsing), in µs. */
export async function verifyEnvelope(rounds: number): Promise<number[]> {
  const { body, headers, ring } = sampleEnvelope();
  const ms = await timeRounds(rounds, 100, async () => {
    if (!verifyBody(body, headers, ring).ok) throw new Error('verification failed');
  });
  return ms.map((x) => x * 1000);
}
