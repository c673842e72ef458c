/** Retry delays (broker reconnects, the CLI's event-stream reconnects): exponential, capped, with "equal jitter" so that a fleet of clients spreads out. */
export interface BackoffOptions {
  /** ms; first delay's upper bound */
  initialMs: number;
  /** ms; no delay exceeds this */
  maxMs: number;
}

/** The broker reconnect schedule: the first cap 200 ms, doubling to at most 10 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000 };

/**
 * Delay before reconnection attempt `attempt` (0-based): uniformly random in [cap/2, cap], where
 * cap = min(maxMs, initialMs · 2^attempt). Half the window is fixed so that no client retries in a
 * tight loop; the other half is random so that 500 agents dropped at once do not return at once.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const cap = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + random() * (cap / 2));
}
