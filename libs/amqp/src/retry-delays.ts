import { backoffDelay, type BackoffOptions } from '@warren/runtime';

/**
 * The delays amqplib's recovery waits between attempts (its `calculateDelay`), in ms: Warren's
 * equal-jitter backoff ({@link backoffDelay}: uniform in [cap/2, cap], cap doubling from
 * `initialMs` to `maxMs`) instead of amqplib's built-in ±20% around a fixed base. Half the window is
 * a floor, so no client retries in a tight loop; the other half is random, so 500 agents dropped
 * at once do not come back at once. After a live connection is lost the first retry is immediate
 * (the broker, or the next node of a cluster, is often there already); the backoff starts after that.
 *
 * amqplib numbers the retries of one outage from 1 and starts again at 1 after each connect.
 */
export class RetryDelays {
  private afterLoss = false;
  private scheduled = 0;

  constructor(
    private readonly backoff: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** ms before retry `attempt` (1-based, as amqplib counts). */
  next(attempt: number): number {
    this.scheduled = attempt;
    if (this.afterLoss) return attempt === 1 ? 0 : backoffDelay(attempt - 2, this.backoff, this.random);
    return backoffDelay(attempt - 1, this.backoff, this.random);
  }

  /** A live connection was lost: the next series starts with an immediate retry. */
  lost(): void {
    this.afterLoss = true;
    this.scheduled = 0;
  }

  /** Connected: the next series starts from the beginning. */
  reset(): void {
    this.afterLoss = false;
    this.scheduled = 0;
  }

  /** Attempts of this series that failed so far (the immediate retry after a loss included). */
  get failedAttempts(): number {
    return this.afterLoss ? Math.max(0, this.scheduled - 1) : this.scheduled;
  }
}
