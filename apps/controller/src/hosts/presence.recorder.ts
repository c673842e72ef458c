import type { Logger } from 'pino';
import type { PresenceRecord, PresenceStore } from './presence-store.port';

/** ms; verified heartbeats are written at most this often, in one transaction */
export const PRESENCE_FLUSH_MS = 1_000;

/**
 * Writes presence to its {@link PresenceStore} in batches: the newest record of each host heard
 * since the last write, once per {@link PRESENCE_FLUSH_MS} (20,000 agents beating every 5 s cost
 * one transaction of 4,000 rows a second, not 4,000 transactions), and the hosts forgotten. A write
 * that fails (database away) is kept and tried again at the next tick, newer records winning; the
 * in-memory view the registry answers from never waits for it.
 */
export class PresenceRecorder {
  private pending = new Map<string, PresenceRecord>();
  private forgotten = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly log: Logger,
    private readonly flushMs = PRESENCE_FLUSH_MS,
  ) {}

  /** Every host's stored record (at start). */
  load(): Promise<PresenceRecord[]> {
    return this.store.list();
  }

  /** Starts the periodic writes. */
  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Notes a verified heartbeat (or goodbye) to write at the next tick. */
  add(r: PresenceRecord): void {
    this.forgotten.delete(r.host);
    const held = this.pending.get(r.host);
    if (!held || held.sentAt < r.sentAt) this.pending.set(r.host, r);
  }

  /** Notes a host whose presence was forgotten in memory: its row goes too. */
  forget(host: string): void {
    this.pending.delete(host);
    this.forgotten.add(host);
  }

  /** Writes what is noted now (one write at a time); never rejects. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0 && this.forgotten.size === 0) return;
    const records = [...this.pending.values()];
    const forgotten = [...this.forgotten];
    this.pending = new Map();
    this.forgotten = new Set();
    try {
      if (forgotten.length > 0) await this.store.forget(forgotten);
      await this.store.record(records);
      if (this.failing) this.log.info({ hosts: records.length }, 'presence recorded again');
      this.failing = false;
    } catch (err) {
      // Put back what was not written, unless something newer came meanwhile.
      for (const r of records) if (!this.forgotten.has(r.host)) this.add(r);
      for (const h of forgotten) if (!this.pending.has(h)) this.forgotten.add(h);
      if (!this.failing)
        this.log.warn({ err: (err as Error).message, hosts: records.length }, 'presence not recorded; retrying');
      this.failing = true;
    }
  }

  /** Stops the ticks and writes what is left (at shutdown, before the store closes). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
