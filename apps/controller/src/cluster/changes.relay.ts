import type { Logger } from 'pino';
import { type ChangesMessage, decodeChanges, encodeChanges, MAX_IDS_PER_LIST } from './changes.message';

/** What the relay tells this controller when another one announced changes. */
export interface ChangesSink {
  /** tasks whose stored invocations changed: the rolling scheduler catches up from the store */
  changed(taskIds: string[]): void;
  /** tasks that completed: requests waiting for them are woken (not counted again: metrics are the committer's) */
  completed(taskIds: string[]): void;
  /** hosts whose keys changed: their cached keys are read again */
  hostKeys(hosts: string[]): void;
}

/** Options of a {@link ChangesRelay}. */
export interface ChangesRelayOptions {
  /** this controller's instance id (hex): its own messages come back through the fanout and are ignored */
  instanceId: string;
  /** ms; announcements are coalesced for this long, so a burst of commits costs one message */
  tickMs: number;
  /** publishes one body on the changes fanout; false when not connected (the message is dropped) */
  send: (body: Buffer) => boolean;
  sink: ChangesSink;
  logger: Logger;
}

/**
 * The wake-ups between controllers sharing a database. Each local commit is noted here (which
 * tasks changed or completed, which host keys), and every `tickMs` what was noted goes out in one
 * small transient message on the changes fanout (ids only; split past {@link MAX_IDS_PER_LIST}).
 * What another controller announced is validated and handed to the {@link ChangesSink}.
 *
 * Why a RabbitMQ fanout and not PostgreSQL's LISTEN/NOTIFY: a transaction that has issued NOTIFY
 * takes a global lock at commit, so every committing transaction that notifies is serialised
 * behind the others (see the Notes of NOTIFY in the PostgreSQL docs), on the hot path of storing
 * results; the broker is already there, sized for exactly this traffic, and works the same over
 * SQLite. Nothing depends on a wake-up arriving: waits and SSE sessions re-read the store now and
 * then, so a lost one only delays.
 */
export class ChangesRelay {
  private changed = new Set<string>();
  private completed = new Set<string>();
  private hostKeys = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** messages sent, and dropped because the broker was not connected (for logs and tests) */
  readonly counts = { sent: 0, unsent: 0, received: 0, rejected: 0 };

  constructor(private readonly opts: ChangesRelayOptions) {}

  /** Notes a local commit: these tasks changed, these completed. */
  noteTasks(changed: Iterable<string>, completed: Iterable<string> = []): void {
    for (const id of changed) this.changed.add(id);
    for (const id of completed) this.completed.add(id);
    this.schedule();
  }

  /** Notes a local change of these hosts' keys. */
  noteHostKeys(hosts: Iterable<string>): void {
    for (const h of hosts) this.hostKeys.add(h);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    if (this.changed.size + this.completed.size + this.hostKeys.size === 0) return;
    this.timer = setTimeout(() => this.flush(), this.opts.tickMs);
    this.timer.unref();
  }

  /** Sends what was noted now (the tick calls it; shutdown too). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const changed = [...this.changed];
    const completed = [...this.completed];
    const hostKeys = [...this.hostKeys];
    this.changed = new Set();
    this.completed = new Set();
    this.hostKeys = new Set();
    for (let i = 0; i < Math.max(changed.length, completed.length, hostKeys.length); i += MAX_IDS_PER_LIST) {
      const m: ChangesMessage = {
        v: 1,
        from: this.opts.instanceId,
        changed: changed.slice(i, i + MAX_IDS_PER_LIST),
        completed: completed.slice(i, i + MAX_IDS_PER_LIST),
      };
      const hosts = hostKeys.slice(i, i + MAX_IDS_PER_LIST);
      if (hosts.length > 0) m.hostKeys = hosts;
      if (this.opts.send(encodeChanges(m))) this.counts.sent++;
      else this.counts.unsent++;
    }
  }

  /** Handles one body read from this controller's changes queue; never throws. */
  receive(body: Buffer): void {
    const decoded = decodeChanges(body);
    if (!decoded.ok) {
      this.counts.rejected++;
      return void this.opts.logger.warn(
        { reason: decoded.reason, rejected: this.counts.rejected },
        'dropped a changes message',
      );
    }
    const m = decoded.message;
    if (m.from === this.opts.instanceId) return;
    this.counts.received++;
    if (m.hostKeys?.length) this.opts.sink.hostKeys(m.hostKeys);
    if (m.changed.length > 0) this.opts.sink.changed(m.changed);
    if (m.completed.length > 0) this.opts.sink.completed(m.completed);
  }

  /** Sends what is still noted, then notes nothing more. */
  close(): void {
    this.flush();
    this.closed = true;
  }
}
