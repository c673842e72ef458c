/**
 * The clock port: every piece of Warren that reads the time reads it here, so tests can set
 * time exactly instead of waiting for it (immich's repositories do the same for I/O).
 */
export abstract class Clock {
  /** ms since the Unix epoch, as `Date.now()`. */
  abstract now(): number;
}

/** The real clock. No `@Injectable()`: it has no dependencies, and this library loads no Nest (the CLI imports it). */
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock that moves only when told: for specs. */
export class ManualClock extends Clock {
  constructor(private ms = Date.UTC(2026, 0, 1)) {
    super();
  }
  now(): number {
    return this.ms;
  }
  /** Moves the clock forward by `ms` (or back, if negative). */
  advance(ms: number): void {
    this.ms += ms;
  }
  /** Sets the clock to `ms` since the epoch. */
  set(ms: number): void {
    this.ms = ms;
  }
}
