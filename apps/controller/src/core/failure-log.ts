import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';

/** ms; while something keeps failing, one line per this at most */
export const FAILURE_LOG_MS = 30_000;

/** The two lines a {@link FailureLog} writes. */
export interface FailureLogMessages {
  /** logged at `level` at the first failure, then at most once per {@link FAILURE_LOG_MS} */
  failed: string;
  /** pino level of the `failed` lines; default `error` */
  level?: 'error' | 'warn';
  /** logged at info level once, at the first success after failures */
  resumed: string;
}

/**
 * Logs a failure that repeats (the database away, every tick or every message failing) without
 * flooding the log: the first failure is logged at once, then at most one line per `everyMs` (ms,
 * default {@link FAILURE_LOG_MS}, read against the injected {@link Clock}) with `failures`, how many
 * failed since the previous line (this one included); the first success after that logs one info
 * line with how many failed in all and for how long (ms).
 */
export class FailureLog {
  /** ms since epoch of the first failure since the last success; null while things work */
  private since: number | null = null;
  /** ms since epoch of the last line logged */
  private loggedAt = 0;
  /** failures since the last line logged, and since the first failure */
  private unlogged = 0;
  private total = 0;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly messages: FailureLogMessages,
    private readonly everyMs = FAILURE_LOG_MS,
  ) {}

  /** Whether the last outcome noted was a failure. */
  get failing(): boolean {
    return this.since !== null;
  }

  /** Notes a failure (`err`, with `fields` for its line); returns whether a line was logged for it. */
  failed(err: unknown, fields: Record<string, unknown> = {}): boolean {
    const now = this.clock.now();
    this.unlogged++;
    this.total++;
    const first = this.since === null;
    if (first) this.since = now;
    if (!first && now - this.loggedAt < this.everyMs) return false;
    this.log[this.messages.level ?? 'error'](
      { ...fields, err: err instanceof Error ? err.message : String(err), failures: this.unlogged },
      this.messages.failed,
    );
    this.loggedAt = now;
    this.unlogged = 0;
    return true;
  }

  /** Notes a success: after failures, one info line (`failures` in all, `failingMs`), then quiet. */
  succeeded(fields: Record<string, unknown> = {}): void {
    if (this.since === null) return;
    this.log.info({ ...fields, failures: this.total, failingMs: this.clock.now() - this.since }, this.messages.resumed);
    this.since = null;
    this.unlogged = 0;
    this.total = 0;
  }
}
