/**
 * Every exchange and queue name Warren uses, derived from a namespace (default `warren`) so that
 * two installations, or two test runs, share a broker without touching each other's queues.
 * Nothing else in the code base spells a queue or exchange name.
 */

/** Default namespace prefix. */
export const DEFAULT_NAMESPACE = 'warren';

/** Host ids: what an agent is called, the routing key of its inbox. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Namespaces: a prefix for exchange and queue names. */
export const NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isValidHostId(host: string): boolean {
  return HOST_ID_PATTERN.test(host);
}

/** Direct exchange for commands; routing key = host id. */
export function commandExchange(ns: string): string {
  return `${ns}.cmd`;
}

/** Direct exchange for cancel and other control messages (never queued behind commands). */
export function controlExchange(ns: string): string {
  return `${ns}.ctl`;
}

/** Direct exchange agents publish `started` and `result` to, with the command's `reply_to` as routing key. */
export function repliesExchange(ns: string): string {
  return `${ns}.replies`;
}

/** Durable queue the controller consumes replies from; the `reply_to` of every command. */
export function resultsQueue(ns: string): string {
  return `${ns}.results`;
}

/** Dead-letter exchange of every agent inbox. */
export function deadLetterExchange(ns: string): string {
  return `${ns}.dlx`;
}

/** Durable queue of commands that expired unread in an inbox. */
export function undeliveredQueue(ns: string): string {
  return `${ns}.undelivered`;
}

/** Fanout exchange for agent heartbeats and goodbyes. */
export function presenceExchange(ns: string): string {
  return `${ns}.presence`;
}

/**
 * Fanout exchange between controllers sharing a database: after a commit, a controller announces
 * which tasks (and host keys) changed, so that the others wake their waiting requests, live event
 * logs and caches. Each controller binds its own exclusive queue ({@link controllerChangesQueue}).
 */
export function changesExchange(ns: string): string {
  return `${ns}.changes`;
}

/** A controller's own exclusive, auto-deleted queue on {@link changesExchange}; `instance` is its random id (hex). */
export function controllerChangesQueue(ns: string, instance: string): string {
  return `${ns}.changes.controller-${instance}`;
}

/**
 * Direct exchange for the chunks of files sent to agents (protocol 2, `files.ts`); routing key =
 * host id, and the `BCC` header names the other hosts one chunk is for (RabbitMQ sender-selected
 * distribution), so a chunk is published once for all of them.
 */
export function chunksExchange(ns: string): string {
  return `${ns}.chunks`;
}

/** The host's chunk queue: durable, bound to {@link chunksExchange} with the host id as key. */
export function agentChunksQueue(ns: string, host: string): string {
  return `${ns}.chunks.${host}`;
}

/**
 * Durable queue controllers consume the chunks of fetched files from (`warren fetch`): bound to
 * {@link repliesExchange} with its own name as key, which a get command names as its
 * `chunkReplyTo`. Apart from {@link resultsQueue} so that file bytes never enter the events stream.
 */
export function fetchedQueue(ns: string): string {
  return `${ns}.fetched`;
}

/** The host's inbox: a durable queue bound to {@link commandExchange} with the host id as key. */
export function agentQueue(ns: string, host: string): string {
  return `${ns}.agent.${host}`;
}

/**
 * The host's control queue: durable, bound to {@link controlExchange} with the host id as key, so
 * that a cancel sent while the agent is offline is there when it comes back, and is read before
 * its inbox.
 */
export function agentControlQueue(ns: string, host: string): string {
  return `${ns}.ctl.${host}`;
}

/**
 * The type of every durable queue Warren owns (each agent inbox and control queue, the results and
 * undelivered queues), one per installation (`--queue-type`, `WARREN_QUEUE_TYPE`):
 * - `classic`: one broker node holds each queue; the right choice for one node (the default);
 * - `quorum`: replicated over the nodes of a cluster (Raft), so a queue survives the loss of a
 *   minority of them (https://www.rabbitmq.com/docs/quorum-queues).
 * A queue's type is fixed when it is declared: switching an installation means new queues (see
 * docs/scaling.md, "Queue type: classic or quorum"). Exclusive, auto-deleted per-controller queues
 * stay classic whatever this says (quorum queues cannot be exclusive).
 */
export type QueueType = 'classic' | 'quorum';

/** Every {@link QueueType}, the default first. */
export const QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum'];

/** The queue type used when none is configured: one broker node, as in the quick start. */
export const DEFAULT_QUEUE_TYPE: QueueType = 'classic';

/**
 * `x-delivery-limit` of the quorum queues agents consume (inboxes, control queues): after this many
 * deliveries given back (an agent that died or stopped holding the message unacked; in RabbitMQ
 * 3.10 a requeue and a consumer's lost channel both count) the message is poison, and the queue
 * dead-letters it (an inbox: to `<ns>.undelivered`, reason `delivery_limit`, which the controller
 * leaves to its deadline sweeper) or drops it (a control queue: a cancel has no dead-letter
 * exchange). A healthy agent gives a command back once per restart or lost connection while it
 * waits for a slot, so 10 is far above what a command meets within its delivery timeout, and a
 * command that kills the agent stops after 10 restarts instead of never. Classic queues have no
 * such limit. Source: https://www.rabbitmq.com/docs/quorum-queues#poison-message-handling
 */
export const AGENT_QUEUE_DELIVERY_LIMIT = 10;

/**
 * `x-delivery-limit` of the quorum queues controllers consume (results, undelivered): past it a
 * message is dropped silently (they have no dead-letter exchange, and the broker tells no consumer),
 * so its invocation ends `lost` at its deadline; the results consumer logs the return that drops
 * one (docs/scaling.md, "Queue type"). A controller gives a reply back only
 * while its store fails (`ResultsConsumer`: at most one return every 1 to 5 s per failing batch), so
 * the limit must be out of reach of a database outage: 1,000 returns is about an hour of a store
 * refusing the same batch, while a reply that crashes every controller reading it still stops.
 */
export const CONTROLLER_QUEUE_DELIVERY_LIMIT = 1_000;

/** The arguments of a durable queue consumed by controllers (results, undelivered); none for classic (as ever). */
function controllerQueueArguments(queueType: QueueType): Record<string, unknown> | undefined {
  if (queueType === 'classic') return undefined;
  return { 'x-queue-type': 'quorum', 'x-delivery-limit': CONTROLLER_QUEUE_DELIVERY_LIMIT };
}

/** The arguments of an agent's control queue; none for classic (as ever). */
export function agentControlQueueArguments(queueType: QueueType): Record<string, unknown> | undefined {
  if (queueType === 'classic') return undefined;
  return { 'x-queue-type': 'quorum', 'x-delivery-limit': AGENT_QUEUE_DELIVERY_LIMIT };
}

/**
 * Queue arguments of every agent inbox; agent and tools must declare it with exactly these (the
 * broker refuses a declare whose arguments differ: 406 PRECONDITION_FAILED). Both types
 * dead-letter to {@link deadLetterExchange}, which is how a command that expired unread reaches
 * `<ns>.undelivered`. A quorum inbox dead-letters at-least-once (`x-dead-letter-strategy`,
 * which RabbitMQ honours only with `x-overflow: reject-publish`): the inbox keeps an expired
 * command until `<ns>.undelivered` has confirmed it, so a node lost meanwhile loses none.
 * Source: https://www.rabbitmq.com/docs/quorum-queues#dead-lettering
 */
export function agentQueueArguments(ns: string, queueType: QueueType): Record<string, unknown> {
  if (queueType === 'classic') return { 'x-dead-letter-exchange': deadLetterExchange(ns), 'x-queue-type': 'classic' };
  return {
    'x-dead-letter-exchange': deadLetterExchange(ns),
    'x-queue-type': 'quorum',
    'x-delivery-limit': AGENT_QUEUE_DELIVERY_LIMIT,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  };
}

/** One exchange, queue or binding to assert: plain data, so both ends declare exactly the same thing. */
export interface TopologyDeclarations {
  exchanges: { name: string; type: 'direct' | 'fanout' | 'topic'; durable: boolean }[];
  queues: { name: string; durable: boolean; arguments?: Record<string, unknown> }[];
  bindings: { queue: string; exchange: string; routingKey: string }[];
}

/**
 * What every Warren process shares: the command, control, replies, dead-letter, presence and chunks
 * exchanges, the results, undelivered and fetched queues and their bindings. Agents publish replies to the
 * replies exchange with the command's `reply_to` as routing key; the results queue is bound with
 * its own name as key, so `reply_to` = `resultsQueue(ns)`. The dead-letter exchange is a fanout:
 * a dead-lettered command keeps its routing key (the host), and every one of them belongs in the
 * one undelivered queue. The changes exchange is the controllers' own (see {@link changesExchange}).
 * The results and undelivered queues are of `queueType` (see {@link QueueType}).
 */
export function sharedTopology(ns: string, queueType: QueueType): TopologyDeclarations {
  const args = controllerQueueArguments(queueType);
  return {
    exchanges: [
      { name: commandExchange(ns), type: 'direct', durable: true },
      { name: controlExchange(ns), type: 'direct', durable: true },
      { name: repliesExchange(ns), type: 'direct', durable: true },
      { name: deadLetterExchange(ns), type: 'fanout', durable: true },
      { name: presenceExchange(ns), type: 'fanout', durable: true },
      { name: changesExchange(ns), type: 'fanout', durable: true },
      { name: chunksExchange(ns), type: 'direct', durable: true },
    ],
    queues: [
      { name: resultsQueue(ns), durable: true, ...(args && { arguments: args }) },
      { name: undeliveredQueue(ns), durable: true, ...(args && { arguments: args }) },
      { name: fetchedQueue(ns), durable: true, ...(args && { arguments: args }) },
    ],
    bindings: [
      { queue: resultsQueue(ns), exchange: repliesExchange(ns), routingKey: resultsQueue(ns) },
      { queue: undeliveredQueue(ns), exchange: deadLetterExchange(ns), routingKey: '' },
      { queue: fetchedQueue(ns), exchange: repliesExchange(ns), routingKey: fetchedQueue(ns) },
    ],
  };
}

/**
 * {@link sharedTopology} plus one host's inbox, control queue and chunk queue, bound to the
 * command, control and chunks exchanges by host id; every queue of `queueType`.
 */
export function agentTopology(ns: string, host: string, queueType: QueueType): TopologyDeclarations {
  const t = sharedTopology(ns, queueType);
  t.queues.push({ name: agentQueue(ns, host), durable: true, arguments: agentQueueArguments(ns, queueType) });
  t.bindings.push({ queue: agentQueue(ns, host), exchange: commandExchange(ns), routingKey: host });
  const ctlArgs = agentControlQueueArguments(queueType);
  t.queues.push({ name: agentControlQueue(ns, host), durable: true, ...(ctlArgs && { arguments: ctlArgs }) });
  t.bindings.push({ queue: agentControlQueue(ns, host), exchange: controlExchange(ns), routingKey: host });
  // Chunks expire with their transfer (per-message TTL) and are never dead-lettered: a missing one
  // fails its invocation, which the agent reports.
  t.queues.push({
    name: agentChunksQueue(ns, host),
    durable: true,
    ...(queueType === 'quorum' && {
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': AGENT_QUEUE_DELIVERY_LIMIT },
    }),
  });
  t.bindings.push({ queue: agentChunksQueue(ns, host), exchange: chunksExchange(ns), routingKey: host });
  return t;
}

/**
 * The controllers' RabbitMQ stream (`x-queue-type: stream`) of task events: bound to
 * {@link repliesExchange} with the same routing key as {@link resultsQueue}, so the broker copies
 * every agent reply (`started`, `output`, `result`) into it with no extra publish, and controllers
 * append their notes (which invocations became terminal, which tasks completed) after each commit.
 * Notes are not signed: a reader believes one because it came through {@link eventNotesExchange},
 * which only controllers may write to (docs/broker-security.md). Event ids of `GET /v1/tasks/:id/events` are its offsets, the same on every controller.
 * Declared by controllers only (agents never name it); see docs/streaming.md.
 */
export function eventsStream(ns: string): string {
  return `${ns}.events`;
}

/** Retention of {@link eventsStream}, fixed when the stream is declared. */
export interface EventsRetention {
  /** bytes the stream may hold (`x-max-length-bytes`); whole segments past it are deleted */
  maxBytes: number;
  /** s; segments whose every message is older are deleted (`x-max-age`) */
  maxAgeSec: number;
}

/**
 * The declare arguments of {@link eventsStream}. Retention applies to whole segment files, and
 * only once a segment is full, so the segment size (`x-stream-max-segment-size-bytes`) is an
 * eighth of `maxBytes` (at least 64 KiB): the stream holds up to 9/8 of `maxBytes` on disk, and
 * an age limit is reached at most one segment late. https://www.rabbitmq.com/docs/streams#retention
 */
export function eventsStreamArguments(r: EventsRetention): Record<string, unknown> {
  return {
    'x-queue-type': 'stream',
    'x-max-length-bytes': r.maxBytes,
    'x-max-age': `${r.maxAgeSec}s`,
    'x-stream-max-segment-size-bytes': Math.max(64 * 1024, Math.floor(r.maxBytes / 8)),
  };
}

/**
 * Fanout exchange controllers publish their (unsigned) notes to (see {@link eventsStream}), bound to
 * the stream alone; declared by controllers only. Write permission on it is what makes a note
 * trusted: only controllers' broker users may have it (docs/broker-security.md). A publish to the default exchange would need
 * write permission on every queue of the vhost (`amq.default`), this needs it on one exchange.
 */
export function eventNotesExchange(ns: string): string {
  return `${ns}.event-notes`;
}

/**
 * What controllers declare besides {@link sharedTopology}: the notes exchange and the events
 * stream, bound to the replies exchange (every agent reply) and to the notes exchange.
 */
export function eventsTopology(ns: string, retention: EventsRetention): TopologyDeclarations {
  return {
    exchanges: [{ name: eventNotesExchange(ns), type: 'fanout', durable: true }],
    queues: [{ name: eventsStream(ns), durable: true, arguments: eventsStreamArguments(retention) }],
    bindings: [
      { queue: eventsStream(ns), exchange: repliesExchange(ns), routingKey: resultsQueue(ns) },
      { queue: eventsStream(ns), exchange: eventNotesExchange(ns), routingKey: '' },
    ],
  };
}
