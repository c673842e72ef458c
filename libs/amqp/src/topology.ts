import type { Channel } from 'amqplib';
import { QueueTypeMismatchError } from './errors';

/** AMQP reply code of a declare whose arguments differ from the existing entity's (`PRECONDITION_FAILED`). */
const PRECONDITION_FAILED = 406;

/**
 * Arguments that Warren gives quorum queues only (see `agentQueueArguments` in `@warren/protocol`).
 * RabbitMQ compares some of them before `x-queue-type` (3.10: `x-overflow` and
 * `x-dead-letter-strategy` come first), so a classic inbox redeclared quorum is refused for
 * `x-overflow`, not for its type.
 */
const QUORUM_ONLY_ARGS = new Set(['x-delivery-limit', 'x-dead-letter-strategy', 'x-overflow']);

/** `none`, or the quoted value of one side of a refusal (`'quorum'`, `the value 'quorum' of type 'longstr'`). */
function valueIn(side: string): string {
  return /'([^']*)'/.exec(side)?.[1] ?? 'none';
}

/**
 * The {@link QueueTypeMismatchError} that `err` (from declaring `queue` with `args`) stands for, or
 * `err` itself when it is anything else. RabbitMQ refuses a redeclare with different arguments
 * with 406 `inequivalent arg 'A' for queue 'Q' in vhost 'V': received R but current is C`, naming
 * the first argument that differs: when it is `x-queue-type`, C is the queue's type (`none`: a
 * classic queue declared without it); when it is one of {@link QUORUM_ONLY_ARGS} present on one
 * side only, the queue is of the type that carries it or of the other. Two values that both exist
 * and differ (another delivery limit) are no type mismatch: `err` is returned.
 */
export function queueTypeMismatch(err: unknown, queue: string, args: Record<string, unknown> | undefined): unknown {
  const message = (err as { message?: string })?.message ?? '';
  const m = /inequivalent arg '([^']+)' for queue '.*' in vhost '.*': received (.*) but current is (.*?)"?$/.exec(
    message,
  );
  if ((err as { code?: number })?.code !== PRECONDITION_FAILED || !m) return err;
  const [, arg, received, current] = m;
  const configured = typeof args?.['x-queue-type'] === 'string' ? args['x-queue-type'] : 'classic';
  let found: string | null = null;
  if (arg === 'x-queue-type') found = current === 'none' ? 'classic' : valueIn(current);
  else if (QUORUM_ONLY_ARGS.has(arg) && (received === 'none') !== (current === 'none'))
    found = current === 'none' ? 'classic' : 'quorum';
  if (found === null || found === configured) return err;
  return new QueueTypeMismatchError(queue, found, configured);
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
