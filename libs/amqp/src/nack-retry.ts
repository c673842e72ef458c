import { backoffDelay, type BackoffOptions } from '@warren/runtime';
import { PublishNackedError } from './errors';

/**
 * Delays between publishes of a message the broker refused (`basic.nack`), ms: equal jitter, the
 * cap doubling from 100 ms to 5 s. A quorum queue whose leader node just died nacks what a client
 * publishes before its members have elected another (measured here: up to ~0.5 s after a SIGKILL);
 * RabbitMQ sends a nack when it could not take responsibility for a message
 * (https://www.rabbitmq.com/docs/confirms#server-sent-nacks), so publishing it again is safe, and a
 * copy that did get through is dropped by its receiver (by invocation id).
 */
export const NACK_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/** Options of {@link retryNacked}. */
export interface NackRetryOptions {
  /** delays between attempts; default {@link NACK_BACKOFF} */
  backoff?: BackoffOptions;
  /**
   * ms since epoch after which a nack is final: the last {@link PublishNackedError} is thrown
   * instead of waiting again (a command past its expiry is worth nothing). Default: never.
   */
  giveUpAt?: number;
  /** told of each nack before the wait: how many so far (1, 2, …) and the wait in ms */
  onNack?: (err: PublishNackedError, nacks: number, delayMs: number) => void;
  /** ms since epoch; default `Date.now` */
  now?: () => number;
}

/**
 * Runs `attempt` (one confirmed publish) until it resolves, again after a {@link NACK_BACKOFF}
 * delay each time it rejects with {@link PublishNackedError}. Any other error is thrown at once.
 * The waits are unref'd timers: a publish waiting here never holds up the process's exit.
 *
 * @throws the last {@link PublishNackedError} once `giveUpAt` has passed; any other error of `attempt`
 */
export async function retryNacked<T>(attempt: () => Promise<T>, opts: NackRetryOptions = {}): Promise<T> {
  const now = opts.now ?? Date.now;
  for (let nacks = 0; ; nacks++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof PublishNackedError)) throw err;
      const delayMs = backoffDelay(nacks, opts.backoff ?? NACK_BACKOFF);
      if (opts.giveUpAt !== undefined && now() + delayMs > opts.giveUpAt) throw err;
      opts.onNack?.(err, nacks + 1, delayMs);
      await new Promise((r) => setTimeout(r, delayMs).unref());
    }
  }
}
