import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';

/** ms; how often the loop's lateness is sampled while commands run (libuv's timers have no finer resolution). */
export const LOOP_DELAY_RESOLUTION_MS = 1;

/** How late the agent's event loop ran, in ms with 2 decimals (see {@link LoopDelay}). */
export interface LoopDelaySummary {
  p50: number;
  p99: number;
  max: number;
}

/**
 * The agent's event-loop delay while it runs commands, for the 'agent stopped' line: a timer due
 * every {@link LOOP_DELAY_RESOLUTION_MS} ms records how late each of its turns came (a `spawn()`
 * forking the agent holds the loop, and the turn after it comes that much late), in µs into a
 * histogram. Values below about a millisecond are as coarse as libuv's millisecond timer clock.
 *
 * The timer runs only while at least one command runs ({@link running}, from the process runner,
 * which counts a command from just before its fork): an idle agent wakes for nothing (a 1 ms timer
 * always on cost an idle agent ~4 % of a core). Not `monitorEventLoopDelay`: re-enabled after a
 * pause, it records the whole pause as one sample, and its histograms cannot be added together.
 */
export class LoopDelay {
  /** µs late */
  private readonly histogram: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | null = null;
  /** performance.now() when the next turn is due */
  private due = 0;
  private stopped = false;

  /** Commands running now (the process runner calls it at each change): samples while any runs. */
  running(count: number): void {
    if (this.stopped) return;
    if (count > 0) this.sample();
    else this.pause();
  }

  /** Ends sampling for good (at shutdown). */
  stop(): void {
    this.stopped = true;
    this.pause();
  }

  summary(): LoopDelaySummary {
    const h = this.histogram;
    if (h.count === 0) return { p50: 0, p99: 0, max: 0 };
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  }

  private sample(): void {
    if (this.timer) return;
    const tick = () => {
      const now = performance.now();
      this.histogram.record(Math.max(1, Math.round((now - this.due) * 1000)));
      this.due = now + LOOP_DELAY_RESOLUTION_MS;
      this.timer = setTimeout(tick, LOOP_DELAY_RESOLUTION_MS).unref();
    };
    this.due = performance.now() + LOOP_DELAY_RESOLUTION_MS;
    this.timer = setTimeout(tick, LOOP_DELAY_RESOLUTION_MS).unref();
  }

  private pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** µs → ms, 2 decimals. */
function ms(us: number): number {
  return Math.round(us / 10) / 100;
}
