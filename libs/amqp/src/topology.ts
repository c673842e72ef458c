import type { Channel } from 'amqplib';

/** Asserts declarations from `@warren/protocol`'s topology functions; idempotent. */
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
    await channel.assertQueue(q.name, {
      durable: q.durable,
      arguments: q.arguments,
      exclusive: q.exclusive,
      autoDelete: q.autoDelete,
    });
  }
  for (const b of t.bindings) await channel.bindQueue(b.queue, b.exchange, b.routingKey);
}
