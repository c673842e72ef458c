/**
 * Simulated agents for the benchmark: one process hosting `--count` agent inboxes, answering each
 * command with `started` and a `succeeded` result at once, without spawning anything. It speaks
 * the real protocol through the real libs, so the controller cannot tell it from a fleet.
 *
 *   tsx bench/sim-agents.ts --namespace NS --count 1000 [--prefix sim] [--broker URL]
 * Prints `ready` on stdout once every inbox is consumed.
 */
import * as amqplib from 'amqplib';
import pino from 'pino';
import { AmqpConnection, assertTopology, ConfirmPublisher } from '@warren/amqp';
import {
  agentTopology,
  APP_ID,
  decodeCommand,
  encode,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  presenceExchange,
  repliesExchange,
  WARREN_VERSION,
} from '@warren/protocol';

function arg(name: string, def?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1];
  if (def === undefined) throw new Error(`--${name} is required`);
  return def;
}

async function main(): Promise<void> {
  const ns = arg('namespace');
  const count = Number(arg('count', '1000'));
  const prefix = arg('prefix', 'sim');
  const url = arg('broker', 'amqp://guest:guest@127.0.0.1:5672');
  const hosts = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
  const log = pino({ level: 'warn' });
  const conn = new AmqpConnection({
    url,
    name: `warren-bench-sim ${count}`,
    logger: log,
    setup: async (ch) => {
      for (const h of hosts) await assertTopology(ch, agentTopology(ns, h));
    },
  });
  const publisher = new ConfirmPublisher(conn, { logger: log, waitForConnectionMs: 60_000 });
  await publisher.start();
  let handled = 0;
  await conn.attach(async (model: amqplib.ChannelModel) => {
    const ch = await conn.ownedChannel(model);
    await ch.prefetch(2000);
    for (const host of hosts) {
      await ch.consume(agentTopology(ns, host).queues.at(-1)!.name, (msg) => {
        if (!msg) return;
        ch.ack(msg);
        const d = decodeCommand(msg.content);
        if (!d.ok) return;
        const c = d.message;
        const replyTo = String(msg.properties.replyTo);
        const now = Date.now();
        const props = (type: string) => ({ correlationId: c.invocationId, type, contentType: 'application/json', appId: APP_ID, persistent: true });
        void publisher.publish(repliesExchange(ns), replyTo, encode({ v: PROTOCOL_VERSION, kind: 'started', invocationId: c.invocationId, taskId: c.taskId, host, startedAt: now, pid: 0 }), props(MESSAGE_TYPES.started));
        void publisher.publish(
          repliesExchange(ns),
          replyTo,
          encode({
            v: PROTOCOL_VERSION, kind: 'result', invocationId: c.invocationId, taskId: c.taskId, host, state: 'succeeded', exitCode: 0, signal: null,
            stdout: { data: `${host}\n`, bytes: host.length + 1, truncated: false }, stderr: { data: '', bytes: 0, truncated: false },
            startedAt: now, finishedAt: now, durationMs: 0, reason: null,
          }),
          props(MESSAGE_TYPES.result),
        );
        handled++;
      });
    }
    // One heartbeat per simulated host, so the controller lists them as online.
    for (const host of hosts) {
      ch.publish(presenceExchange(ns), '', encode({ v: PROTOCOL_VERSION, kind: 'presence', host, status: 'online', labels: { sim: 'true' }, version: WARREN_VERSION, running: 0, concurrency: 1000, intervalMs: 3_600_000, sentAt: Date.now() }));
    }
  });
  conn.start();
  await conn.waitConnected(60_000);
  process.stdout.write('ready\n');
  const stop = async () => {
    await publisher.close(2_000);
    await conn.close();
    process.stderr.write(`sim-agents: handled ${handled}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`sim-agents: ${(err as Error).stack}\n`);
  process.exit(1);
});
