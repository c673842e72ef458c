import type { Channel } from 'amqplib';
import { QueueTypeMismatchError } from './errors';

/** AMQP reply code of a declare whose arguments differ from the existing entity's (`PRECONDITION_FAILED`). */
const PRECONDITION_FAILED = 406;

/**
 * The queue type named in RabbitMQ's refusal `inequivalent arg 'x-queue-type' for queue 'Q' in
 * vhost 'V': received … but current is …` (3.10: `none`, `'quorum'` or `the value 'quorum' of type
 * 'longstr'`); `none` (declared without the argument) is a classic queue.
 */
function typeIn(side: string): string {
  return /'([^']*)'/.exec(side)?.[1] ?? 'classic';
}

/**
 * The {@link QueueTypeMismatchError} that `err` (from declaring `queue` with `args`) stands for, or
 * `err` itself when it is anything else.
 */
export function queueTypeMismatch(err: unknown, queue: string, args: Record<string, unknown> | undefined): unknown {
  const message = (err as { message?: string })?.message ?? '';
  if ((err as { code?: number })?.code !== PRECONDITION_FAILED || !message.includes("inequivalent arg 'x-queue-type'"))
    return err;
  const current = /but current is (.*?)"?$/.exec(message)?.[1] ?? 'none';
  const configured = typeof args?.['x-queue-type'] === 'string' ? args['x-queue-type'] : 'classic';
  return new QueueTypeMismatchError(queue, typeIn(current), configured);
}

/**
 * Asserts declarations from `@warren/protocol`'s topology functions; idempotent. A queue that
 * exists with another type rejects with {@link QueueTypeMismatchError} (the broker has closed the
 * channel); any other refusal rejects with the broker's error.
 */
export async function assertTopology(
  channel: Channel,
  t: {
    exchanges: { name: string; type: string; durable: boolean }[];
    queues: {
      name: string;
      durable: boolean;
      arguments?: Record<string, unknown>;
      exclusive?: boolean;
      autoDelete?: boolean;
    }[];
    bindings: { queue: string; exchange: string; routingKey: string }[];
  },
): Promise<void> {
  for (const e of t.exchanges) await channel.assertExchange(e.name, e.type, { durable: e.durable });
  for (const q of t.queues) {
    try {
      await channel.assertQueue(q.name, {
        durable: q.durable,
        arguments: q.arguments,
        exclusive: q.exclusive,
        autoDelete: q.autoDelete,
      });
    } catch (err) {
      throw queueTypeMismatch(err, q.name, q.arguments);
    }
  }
  for (const b of t.bindings) await channel.bindQueue(b.queue, b.exchange, b.routingKey);
}
