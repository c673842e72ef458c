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

/** Queue arguments of every agent inbox; agent and tools must declare it with exactly these. */
export function agentQueueArguments(ns: string): Record<string, unknown> {
  return { 'x-dead-letter-exchange': deadLetterExchange(ns), 'x-queue-type': 'classic' };
}

/** One exchange, queue or binding to assert: plain data, so both ends declare exactly the same thing. */
export interface TopologyDeclarations {
  exchanges: { name: string; type: 'direct' | 'fanout' | 'topic'; durable: boolean }[];
  queues: { name: string; durable: boolean; arguments?: Record<string, unknown> }[];
  bindings: { queue: string; exchange: string; routingKey: string }[];
}

/**
 * What every Warren process shares: the command, control, replies, dead-letter and presence
 * exchanges, the results and undelivered queues and their bindings. Agents publish replies to the
 * replies exchange with the command's `reply_to` as routing key; the results queue is bound with
 * its own name as key, so `reply_to` = `resultsQueue(ns)`. The dead-letter exchange is a fanout:
 * a dead-lettered command keeps its routing key (the host), and every one of them belongs in the
 * one undelivered queue. The changes exchange is the controllers' own (see {@link changesExchange}).
 */
export function sharedTopology(ns: string): TopologyDeclarations {
  return {
    exchanges: [
      { name: commandExchange(ns), type: 'direct', durable: true },
      { name: controlExchange(ns), type: 'direct', durable: true },
      { name: repliesExchange(ns), type: 'direct', durable: true },
      { name: deadLetterExchange(ns), type: 'fanout', durable: true },
      { name: presenceExchange(ns), type: 'fanout', durable: true },
      { name: changesExchange(ns), type: 'fanout', durable: true },
    ],
    queues: [
      { name: resultsQueue(ns), durable: true },
      { name: undeliveredQueue(ns), durable: true },
    ],
    bindings: [
      { queue: resultsQueue(ns), exchange: repliesExchange(ns), routingKey: resultsQueue(ns) },
      { queue: undeliveredQueue(ns), exchange: deadLetterExchange(ns), routingKey: '' },
    ],
  };
}

/** {@link sharedTopology} plus one host's inbox, bound to the command exchange by host id. */
export function agentTopology(ns: string, host: string): TopologyDeclarations {
  const t = sharedTopology(ns);
  t.queues.push({ name: agentQueue(ns, host), durable: true, arguments: agentQueueArguments(ns) });
  t.bindings.push({ queue: agentQueue(ns, host), exchange: commandExchange(ns), routingKey: host });
  t.queues.push({ name: agentControlQueue(ns, host), durable: true });
  t.bindings.push({ queue: agentControlQueue(ns, host), exchange: controlExchange(ns), routingKey: host });
  return t;
}

/**
 * The controllers' RabbitMQ stream (`x-queue-type: stream`) of task events: bound to
 * {@link repliesExchange} with the same routing key as {@link resultsQueue}, so the broker copies
 * every agent reply (`started`, `output`, `result`) into it with no extra publish, and controllers
 * append their signed notes (which invocations became terminal, which tasks completed) after each
 * commit. Event ids of `GET /v1/tasks/:id/events` are its offsets, the same on every controller.
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
 * Fanout exchange controllers publish their signed notes to (see {@link eventsStream}), bound to
 * the stream alone; declared by controllers only. A publish to the default exchange would need
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
