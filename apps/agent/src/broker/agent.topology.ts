import { assertTopology, type Channel, type ChannelModel } from '@warren/amqp';
import {
  agentQueue,
  agentTopology,
  presenceExchange,
  type QueueType,
  repliesExchange,
  sharedTopology,
} from '@warren/protocol';
import type { Logger } from 'pino';

/** AMQP reply code of a refused permission (`ACCESS_REFUSED`). */
const ACCESS_REFUSED = 403;
/** AMQP reply code of a passive declare of something that does not exist (`NOT_FOUND`). */
const NOT_FOUND = 404;

/** The broker has no queue or exchange this agent needs, and the agent may not declare it. */
export class TopologyMissingError extends Error {
  override readonly name = 'TopologyMissingError';
}

/**
 * The agent's topology setup, run on every (re)connect before anything attaches; idempotent.
 *
 * With a broker user allowed to declare (`configure`), it asserts what every Warren process shares
 * (command, control and replies direct exchanges, the fanout dead-letter exchange and its
 * undelivered queue, the results queue bound to the replies exchange by its own name, the presence
 * fanout), all durable and exactly as the controller declares them, plus this host's inbox: a
 * durable queue with the agent queue arguments (dead-letters to the dlx), bound to the command
 * exchange with the host id as routing key; every queue of `queueType` (`--queue-type`).
 *
 * A least-privilege agent user (see docs/broker-security.md) may not declare anything: the broker
 * admin provisions the inbox and its binding. The first refused declare (403, which closes that
 * channel only) switches this setup, for the life of the process, to passive checks on a fresh
 * channel: the replies and presence exchanges and this host's own queues (inbox, control queue)
 * must exist (passive declares need no permission). A missing one fails the connect with {@link TopologyMissingError}, so the
 * connection retries with backoff until the admin provisions it.
 */
export function agentTopologySetup(
  namespace: string,
  host: string,
  queueType: QueueType,
  log: Logger,
): (channel: Channel, conn: ChannelModel) => Promise<void> {
  let managedByAdmin = false;
  return async (channel, conn) => {
    if (!managedByAdmin) {
      try {
        await assertTopology(channel, agentTopology(namespace, host, queueType));
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== ACCESS_REFUSED) throw err;
        managedByAdmin = true;
        log.info(
          { inbox: agentQueue(namespace, host), reason: (err as Error).message },
          'broker user may not declare topology: it is managed by the broker admin; checking it exists, then consuming only',
        );
      }
    }
    await checkProvisioned(conn, namespace, host, queueType);
  };
}

async function checkProvisioned(
  conn: ChannelModel,
  namespace: string,
  host: string,
  queueType: QueueType,
): Promise<void> {
  const ch = await conn.createChannel();
  // A failed passive declare closes this channel; its error is reported through the rejection below.
  ch.on('error', () => undefined);
  // This host's own queues: whatever agentTopology adds to the shared topology.
  const shared = new Set(sharedTopology(namespace, queueType).queues.map((q) => q.name));
  const own = agentTopology(namespace, host, queueType).queues.filter((q) => !shared.has(q.name));
  const checks: [string, () => Promise<unknown>][] = [
    [`exchange ${repliesExchange(namespace)}`, () => ch.checkExchange(repliesExchange(namespace))],
    [`exchange ${presenceExchange(namespace)}`, () => ch.checkExchange(presenceExchange(namespace))],
    ...own.map((q): [string, () => Promise<unknown>] => [`queue ${q.name}`, () => ch.checkQueue(q.name)]),
  ];
  try {
    for (const [what, check] of checks) {
      try {
        await check();
      } catch (err) {
        if ((err as { code?: number }).code !== NOT_FOUND) throw err;
        throw new TopologyMissingError(
          `${what} does not exist and this broker user may not declare it: the broker admin must provision it (scripts/broker-users.sh${queueType === 'quorum' ? ' --queue-type quorum' : ''} agent ${host})`,
        );
      }
    }
  } finally {
    await ch.close().catch(() => undefined);
  }
}
