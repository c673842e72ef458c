import * as amqplib from 'amqplib';

/**
 * The value on the `current is …` side of RabbitMQ's refusal: undefined for `none`, a number for
 * `the value 10 of type 'signedint'`, else the text (`'quorum'`, `the value 'x' of type 'longstr'`).
 */
function currentValue(refusal: string): unknown {
  const m = /but current is (?:the value )?'?([^' "]*)'?(?: of type '(\w+)')?/.exec(refusal);
  if (m?.[1] === 'none') return undefined;
  if (!m) return undefined;
  return m[2] && m[2] !== 'longstr' && /^-?\d+$/.test(m[1]) ? Number(m[1]) : m[1];
}

/**
 * The type of queue `name` on the broker at `url` (`classic`, `quorum`, `stream`), or `missing`,
 * through AMQP alone (no management plugin, no rabbitmqctl). The passive check first, so nothing
 * is created; then a declare as `x-queue-type: stream`, which the broker refuses with a 406 naming
 * the first argument that differs: when it is not `x-queue-type` (RabbitMQ compares
 * `x-dead-letter-exchange`, `x-overflow`… first), the probe takes the queue's own value of it and
 * declares again, until the refusal names the type (`current is none` for a classic queue
 * declared without the argument).
 */
export async function queueTypeOf(url: string, name: string): Promise<string> {
  const c = await amqplib.connect(url);
  c.on('error', () => undefined);
  const channel = async () => {
    const ch = await c.createChannel();
    ch.on('error', () => undefined);
    return ch;
  };
  try {
    const exists = await (await channel()).checkQueue(name).then(
      () => true,
      () => false,
    );
    if (!exists) return 'missing';
    const args: Record<string, unknown> = { 'x-queue-type': 'stream' };
    for (let i = 0; i < 10; i++) {
      const refusal = await (await channel()).assertQueue(name, { durable: true, arguments: args }).then(
        () => "inequivalent arg 'x-queue-type' current is the value 'stream'",
        (err: Error) => err.message,
      );
      const arg = /inequivalent arg '([^']+)'/.exec(refusal)?.[1];
      if (arg === 'x-queue-type') return /current is none/.test(refusal) ? 'classic' : String(currentValue(refusal));
      if (arg === undefined) return `unknown (${refusal})`;
      const value = currentValue(refusal);
      if (value === undefined) delete args[arg];
      else args[arg] = value;
    }
    return 'unknown';
  } finally {
    await c.close().catch(() => undefined);
  }
}
