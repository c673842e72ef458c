import { assertTopology, type Channel, type ChannelModel } from '@warren/amqp';
import { eventsStream, eventsTopology, type EventsRetention } from '@warren/protocol';
import type { Logger } from 'pino';

/** AMQP reply code of a declare whose arguments differ from the existing queue's (`PRECONDITION_FAILED`). */
const PRECONDITION_FAILED = 406;

/**
 * Declares the events stream, its notes exchange and bindings (`eventsTopology`), on every
 * (re)connect of a controller. A stream's retention arguments are fixed when it is first declared:
 * a controller started with other `--events-max-bytes`/`--events-max-age` than the stream has
 * meets 406 (the broker closes that channel); it then keeps the stream as it is, says so once, and
 * declares the rest on a fresh channel. To change retention: a policy (`rabbitmqctl set_policy …
 * '{"max-length-bytes":…,"max-age":"…"}' --apply-to queues`, which wins over the arguments) or
 * deleting the stream while no controller runs. https://www.rabbitmq.com/docs/streams#retention
 */
export function eventsTopologySetup(
  ns: string,
  retention: EventsRetention,
  log: Logger,
): (channel: Channel, conn: ChannelModel) => Promise<void> {
  let warned = false;
  return async (channel, conn) => {
    const t = eventsTopology(ns, retention);
    try {
      await assertTopology(channel, t);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== PRECONDITION_FAILED) throw err;
      if (!warned)
        log.warn(
          { stream: eventsStream(ns), reason: (err as Error).message },
          'the events stream exists with other retention arguments: keeping it as it is (see docs/streaming.md to change it)',
        );
      warned = true;
    }
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a refusal is reported through the rejection
    try {
      await ch.checkQueue(eventsStream(ns));
      await assertTopology(ch, { ...t, queues: [] });
    } finally {
      await ch.close().catch(() => undefined);
    }
  };
}
