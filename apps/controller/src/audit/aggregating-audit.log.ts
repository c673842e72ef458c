import type { Clock } from '@warren/runtime';
import type { AuditEvent, AuditLog, AuditQuery, AuditRecordView } from './audit.port';

/** How repeated refusals are folded into records. */
export interface AuditAggregation {
  /** ms; a repeatable refusal is recorded once per this interval per decision, action, source and repeat key */
  intervalMs: number;
  /** open intervals kept at most; beyond, the oldest is closed (its record written) at once */
  maxOpen: number;
  /** hosts named in one summary record at most (a fresh-key flood names thousands) */
  maxHosts: number;
}

/** One record a minute per kind of repeated refusal; ten thousand kinds at once at most. */
export const DEFAULT_AUDIT_AGGREGATION: AuditAggregation = { intervalMs: 60_000, maxOpen: 10_000, maxHosts: 50 };

/** An interval of one kind of repeated refusal: its first was recorded, the rest are counted here. */
interface Open {
  /** ms; when the interval began (its first refusal) */
  start: number;
  /** refusals after the first, not recorded yet */
  repeats: number;
  /** the latest of them, which their record is written from */
  last: AuditEvent | null;
  actors: Set<string>;
  hosts: Set<string>;
}

/**
 * The audit log in front of the store: a refusal marked `repeatKey` (one anyone can repeat at line
 * rate: an anonymous 401 or 429, a forged broker message, a fresh-key heartbeat) is recorded at
 * once the first time in an interval, and the repeats of that interval are counted and written as
 * ONE record with `count` when the interval ends (at the next record, query or tick after it, or at
 * shutdown: {@link flush}). Counts of the records of one kind sum to the refusals made. The open
 * intervals are a bounded Map (insertion order = oldest first), read against the injected
 * {@link Clock}. Anything else passes straight through.
 */
export class AggregatingAuditLog implements AuditLog {
  private readonly open = new Map<string, Open>();
  private timer: NodeJS.Timeout | null = null;
  /** after {@link flush}: every record is written as it comes (nothing would write a count later) */
  private flushed = false;

  constructor(
    private readonly store: AuditLog,
    private readonly clock: Clock,
    private readonly limits: AuditAggregation = DEFAULT_AUDIT_AGGREGATION,
  ) {}

  /** intervals open now */
  get size(): number {
    return this.open.size;
  }

  /** Closes ended intervals every `intervalMs / 4` (an unref'd timer, stopped by {@link flush}). */
  start(): void {
    this.timer ??= setInterval(
      () => void this.store.recordMany(this.closeEnded(this.clock.now(), [])),
      this.limits.intervalMs / 4,
    ).unref();
  }

  async record(event: AuditEvent): Promise<void> {
    return this.recordMany([event]);
  }

  /** As {@link record} for each event in turn; what is to be written then goes to the store in one write. */
  async recordMany(events: readonly AuditEvent[]): Promise<void> {
    const out: AuditEvent[] = [];
    for (const event of events) this.take(event, out);
    await this.store.recordMany(out);
  }

  /** Folds `event` into its open interval, or appends to `out` what is to be written now. */
  private take(event: AuditEvent, out: AuditEvent[]): void {
    const { repeatKey, ...e } = event;
    const now = e.at ?? this.clock.now();
    this.closeEnded(now, out);
    if (repeatKey === undefined || this.flushed) return void out.push(e);
    const key = JSON.stringify([e.decision, e.action, e.source, repeatKey]);
    const o = this.open.get(key);
    if (o) {
      o.repeats++;
      o.last = { ...e, at: now };
      o.actors.add(e.actor);
      for (const h of e.hosts ?? []) if (o.hosts.size < this.limits.maxHosts) o.hosts.add(h);
      return;
    }
    this.open.set(key, { start: now, repeats: 0, last: null, actors: new Set(), hosts: new Set() });
    while (this.open.size > this.limits.maxOpen) this.close(this.open.keys().next().value as string, out);
    out.push({ ...e, at: now, count: 1 });
  }

  async query(q: AuditQuery): Promise<AuditRecordView[]> {
    await this.store.recordMany(this.closeEnded(this.clock.now(), []));
    return this.store.query(q);
  }

  /**
   * Writes the record of every open interval now and stops the timer; from then on every refusal is
   * written as it comes. At shutdown, once the consumers have stopped (AppModule).
   */
  async flush(): Promise<void> {
    this.flushed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const out: AuditEvent[] = [];
    for (const key of [...this.open.keys()]) this.close(key, out);
    await this.store.recordMany(out);
  }

  /** Closes the intervals that have ended by `now` (the oldest are first in the Map), their records appended to `out`. */
  private closeEnded(now: number, out: AuditEvent[]): AuditEvent[] {
    for (const [key, o] of this.open) {
      if (now - o.start < this.limits.intervalMs) break;
      this.close(key, out);
    }
    return out;
  }

  /** Closes one interval: the record of its repeats (if any) is appended to `out`. */
  private close(key: string, out: AuditEvent[]): void {
    const o = this.open.get(key);
    this.open.delete(key);
    if (!o?.last) return;
    const { last } = o;
    out.push({
      ...last,
      // Several actors (a fresh-key flood names a host each): say how many rather than pick one.
      actor: o.actors.size === 1 ? last.actor : `(${o.actors.size} actors)`,
      hosts: [...o.hosts],
      count: o.repeats,
      detail: { ...last.detail, repeatedSince: new Date(o.start).toISOString() },
    });
  }
}
