/**
 * Simulated agents for the benchmark: one process hosting `--count` agent inboxes, answering each
 * command with `started` and a `succeeded` result at once, without spawning anything. It speaks
 * the real protocol through the real libs, so the controller cannot tell it from a fleet: each
 * simulated host has its own key, verifies the controller's signature on every command, and signs
 * its heartbeats and replies.
 *
 *   node --import tsx bench/sim-agents.ts --namespace NS --count 1000 --trust controller.pub [--prefix sim] [--broker URL]
 *        [--queue-type classic|quorum]   (the installation's --queue-type: the inboxes are declared with it)
 * Prints `ready` on stdout once every inbox is consumed.
 */
import * as amqplib from 'amqplib';
import pino from 'pino';
import { AmqpConnection, assertTopology, ConfirmPublisher } from '@warren/amqp';
import {
  agentQueue,
  agentTopology,
  APP_ID,
  decodeCommand,
  encode,
  generateSigningKey,
  keyRing,
  readPublicKeyFile,
  signBody,
  verifyBody,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  presenceExchange,
  type QueueType,
  repliesExchange,
  sharedTopology,
  type TopologyDeclarations,
  WARREN_VERSION,
} from '@warren/protocol';

/** channels declaring the simulated hosts' queues side by side */
const SETUP_LANES = 8;
/** ms; 1,000 hosts' quorum queues on a 3-node cluster of two cores take about 20 s, 2,500 classic ones 1-3 minutes on a busy machine */
const READY_TIMEOUT_MS = 600_000;

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
  const queueType = arg('queue-type', 'classic') as QueueType;
  const hosts = Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
  const log = pino({ level: 'warn' });
  const trusted = keyRing([readPublicKeyFile(arg('trust'))]);
  const keys = new Map(hosts.map((h) => [h, generateSigningKey()]));
  const pub = (h: string) => keys.get(h)!.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const conn = new AmqpConnection({
    url,
    name: `warren-bench-sim ${count}`,
    logger: log,
    setup: async (ch, model) => {
      const shared = sharedTopology(ns, queueType);
      await assertTopology(ch, shared);
      // Then each host's own queues and bindings, on SETUP_LANES channels at once: a quorum queue's
      // declare waits for its replicas to start on every node (about 25 ms each here, one at a time).
      const own = (h: string): TopologyDeclarations => {
        const t = agentTopology(ns, h, queueType);
        const isShared = (name: string) => shared.queues.some((q) => q.name === name);
        return {
          exchanges: [],
          queues: t.queues.filter((q) => !isShared(q.name)),
          bindings: t.bindings.filter((b) => !isShared(b.queue)),
        };
      };
      await Promise.all(
        Array.from({ length: SETUP_LANES }, async (_, lane) => {
          const c = await model.createChannel();
          for (let i = lane; i < hosts.length; i += SETUP_LANES) await assertTopology(c, own(hosts[i]));
          await c.close();
        }),
      );
    },
  });
  const publisher = new ConfirmPublisher(conn, { logger: log, waitForConnectionMs: READY_TIMEOUT_MS });
  await publisher.start();
  let handled = 0;
  await conn.attach(async (model: amqplib.ChannelModel) => {
    const ch = await conn.ownedChannel(model);
    await ch.prefetch(2000);
    for (const host of hosts) {
      await ch.consume(agentQueue(ns, host), (msg) => {
        if (!msg) return;
        ch.ack(msg);
        if (!verifyBody(msg.content, msg.properties.headers, trusted).ok) return;
        const d = decodeCommand(msg.content);
        if (!d.ok) return;
        const c = d.message;
        const replyTo = c.replyTo;
        const now = Date.now();
        const key = keys.get(host)!;
        const send = (type: string, body: Buffer) =>
          void publisher.publish(repliesExchange(ns), replyTo, body, {
            headers: signBody(body, key),
            correlationId: c.invocationId,
            type,
            contentType: 'application/json',
            appId: APP_ID,
            persistent: true,
          });
        send(
          MESSAGE_TYPES.started,
          encode({
            v: PROTOCOL_VERSION,
            kind: 'started',
            invocationId: c.invocationId,
            taskId: c.taskId,
            host,
            startedAt: now,
            pid: 0,
          }),
        );
        send(
          MESSAGE_TYPES.result,
          encode({
            v: PROTOCOL_VERSION,
            kind: 'result',
            invocationId: c.invocationId,
            taskId: c.taskId,
            host,
            state: 'succeeded',
            exitCode: 0,
            signal: null,
            stdout: { data: `${host}\n`, bytes: host.length + 1, truncated: false },
            stderr: { data: '', bytes: 0, truncated: false },
            startedAt: now,
            finishedAt: now,
            durationMs: 0,
            reason: null,
          }),
        );
        handled++;
      });
    }
    // One heartbeat per simulated host, so the controller lists them as online.
    for (const host of hosts) {
      const body = encode({
        v: PROTOCOL_VERSION,
        kind: 'presence',
        host,
        status: 'online',
        labels: { sim: 'true' },
        version: WARREN_VERSION,
        running: 0,
        concurrency: 1000,
        intervalMs: 3_600_000,
        sentAt: Date.now(),
        publicKey: pub(host),
      });
      ch.publish(presenceExchange(ns), '', body, { headers: signBody(body, keys.get(host)!) });
    }
  });
  conn.start();
  await conn.waitConnected(READY_TIMEOUT_MS);
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
