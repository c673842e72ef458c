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

/** The host's inbox: a durable queue bound to {@link commandExchange} with the host id as key. */
export function agentQueue(ns: string, host: string): string {
  return `${ns}.agent.${host}`;
}

/** Queue arguments of every agent inbox; agent and tools must declare it with exactly these. */
export function agentQueueArguments(ns: string): Record<string, unknown> {
  return { 'x-dead-letter-exchange': deadLetterExchange(ns), 'x-queue-type': 'classic' };
}
