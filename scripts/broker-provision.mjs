#!/usr/bin/env node
// Declares Warren's topology with the broker admin's credentials, for installations whose agents
// have least-privilege broker users (scripts/broker-users.sh, docs/broker-security.md): such an
// agent may not declare its own inbox or bind it, since a bind cannot be limited to one routing
// key and an agent allowed to bind could read another host's commands.
//
//   node scripts/broker-provision.mjs --broker-url amqp://admin:pw@host:5672 [--vhost /]
//        [--namespace warren] [--queue-type classic|quorum] [--agent web1]...
//
// Plain ESM with amqplib only, so it runs after `npm ci` without a build. The names and arguments
// mirror libs/protocol/src/topology.ts (sharedTopology, agentTopology); test/e2e/broker-privilege
// asserts that they stay equal.
import { pathToFileURL } from 'node:url';
import amqplib from 'amqplib';

/** Same patterns as HOST_ID_PATTERN and NAMESPACE_PATTERN in libs/protocol/src/topology.ts. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Same as QUEUE_TYPES in libs/protocol/src/topology.ts: the installation's --queue-type. */
export const QUEUE_TYPES = ['classic', 'quorum'];

/**
 * Queue arguments by type, as libs/protocol/src/topology.ts declares them (agentQueueArguments,
 * agentControlQueueArguments, the results and undelivered queues'): the broker refuses a declare
 * whose arguments differ (406 PRECONDITION_FAILED). Classic queues are declared as they always were.
 */
function queueArguments(ns, queueType) {
  if (queueType === 'classic') return { inbox: { 'x-dead-letter-exchange': `${ns}.dlx`, 'x-queue-type': 'classic' } };
  return {
    shared: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 },
    inbox: {
      'x-dead-letter-exchange': `${ns}.dlx`,
      'x-queue-type': 'quorum',
      'x-delivery-limit': 10,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    },
    control: { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 },
    chunks: { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 },
  };
}

/**
 * What to declare for a namespace, a list of agent hosts and a queue type: shared topology, then
 * each host's inbox, control queue and chunk queue.
 */
export function provisionPlan(ns, hosts = [], queueType = 'classic') {
  const args = queueArguments(ns, queueType);
  const withArgs = (q, a) => (a ? { ...q, arguments: a } : q);
  const plan = {
    exchanges: [
      { name: `${ns}.cmd`, type: 'direct', durable: true },
      { name: `${ns}.ctl`, type: 'direct', durable: true },
      { name: `${ns}.replies`, type: 'direct', durable: true },
      { name: `${ns}.dlx`, type: 'fanout', durable: true },
      { name: `${ns}.presence`, type: 'fanout', durable: true },
      { name: `${ns}.changes`, type: 'fanout', durable: true },
      // File chunks to agents (issue 16): routing key = host, BCC header = the other hosts.
      { name: `${ns}.chunks`, type: 'direct', durable: true },
    ],
    queues: [
      withArgs({ name: `${ns}.results`, durable: true }, args.shared),
      withArgs({ name: `${ns}.undelivered`, durable: true }, args.shared),
      // Chunks of fetched files (warren fetch), which agents publish to the replies exchange.
      withArgs({ name: `${ns}.fetched`, durable: true }, args.shared),
    ],
    bindings: [
      { queue: `${ns}.results`, exchange: `${ns}.replies`, routingKey: `${ns}.results` },
      { queue: `${ns}.undelivered`, exchange: `${ns}.dlx`, routingKey: '' },
      { queue: `${ns}.fetched`, exchange: `${ns}.replies`, routingKey: `${ns}.fetched` },
    ],
  };
  for (const host of hosts) {
    plan.queues.push({ name: `${ns}.agent.${host}`, durable: true, arguments: args.inbox });
    plan.bindings.push({ queue: `${ns}.agent.${host}`, exchange: `${ns}.cmd`, routingKey: host });
    // Its control queue (cancels), durable so that a cancel waits for an agent that is offline.
    plan.queues.push(withArgs({ name: `${ns}.ctl.${host}`, durable: true }, args.control));
    plan.bindings.push({ queue: `${ns}.ctl.${host}`, exchange: `${ns}.ctl`, routingKey: host });
    // Its chunk queue (file transfer): chunks expire with their transfer, never dead-lettered.
    plan.queues.push(withArgs({ name: `${ns}.chunks.${host}`, durable: true }, args.chunks));
    plan.bindings.push({ queue: `${ns}.chunks.${host}`, exchange: `${ns}.chunks`, routingKey: host });
  }
  return plan;
}

/** Declares `plan` over `url` (admin credentials); idempotent. */
export async function provision(url, plan) {
  const conn = await amqplib.connect(url, { noDelay: true, timeout: 10_000 });
  conn.on('error', () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const e of plan.exchanges) await ch.assertExchange(e.name, e.type, { durable: e.durable });
    for (const q of plan.queues) await ch.assertQueue(q.name, { durable: q.durable, arguments: q.arguments });
    for (const b of plan.bindings) await ch.bindQueue(b.queue, b.exchange, b.routingKey);
    await ch.close();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

function usage(message) {
  process.stderr.write(
    `broker-provision: ${message}\nusage: node scripts/broker-provision.mjs --broker-url URL [--vhost VHOST] [--namespace NS] [--queue-type classic|quorum] [--agent HOST]...\n`,
  );
  process.exit(2);
}

async function main(argv) {
  let url = process.env.WARREN_ADMIN_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  let vhost;
  let ns = process.env.WARREN_NAMESPACE || 'warren';
  let queueType = process.env.WARREN_QUEUE_TYPE || 'classic';
  const hosts = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!['--broker-url', '--vhost', '--namespace', '--queue-type', '--agent'].includes(flag))
      usage(`unknown argument ${JSON.stringify(flag)}`);
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    if (flag === '--broker-url') url = value;
    else if (flag === '--vhost') vhost = value;
    else if (flag === '--namespace') ns = value;
    else if (flag === '--queue-type') queueType = value;
    else hosts.push(value);
  }
  if (!NAME_PATTERN.test(ns)) usage(`--namespace ${JSON.stringify(ns)}: letters, digits, . _ -, at most 63 characters`);
  if (!QUEUE_TYPES.includes(queueType))
    usage(`--queue-type ${JSON.stringify(queueType)}: must be one of ${QUEUE_TYPES.join(', ')}`);
  for (const h of hosts)
    if (!NAME_PATTERN.test(h))
      usage(`--agent ${JSON.stringify(h)}: not a host id (letters, digits, . _ -, at most 63 characters)`);
  let target;
  try {
    target = new URL(url);
  } catch {
    usage('--broker-url must be an amqp:// or amqps:// URL');
  }
  if (!/^amqps?:$/.test(target.protocol)) usage('--broker-url must be an amqp:// or amqps:// URL');
  // The vhost is the URL's path; --vhost overrides it (so "/" need not be spelled %2F).
  if (vhost !== undefined) target.pathname = `/${encodeURIComponent(vhost)}`;
  const plan = provisionPlan(ns, hosts, queueType);
  try {
    await provision(target.toString(), plan);
  } catch (err) {
    target.password = target.password ? '***' : '';
    process.stderr.write(`broker-provision: declaring on ${target} failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `declared ${plan.exchanges.length} exchanges, ${plan.queues.length} ${queueType} queues, ${plan.bindings.length} bindings in namespace ${ns}\n`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main(process.argv.slice(2));
