import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type ReplyMessage, writeFileAtomically } from '@warren/protocol';
import { type Clock, SystemClock } from '@warren/runtime';

/**
 * ms an entry is kept past its command's expiry. A command is never started after `expiresAt`, so
 * a redelivery past that is refused as expired anyway; the margin covers clock adjustments.
 */
export const JOURNAL_RETENTION_MS = 10 * 60_000;

/** Appended lines beyond twice the live entries (plus this) trigger a compaction. */
const COMPACT_SLACK = 10_000;

const FILE = 'journal.log';

/** How an accepted invocation ended, kept to answer a replay of it. */
export interface JournaledOutcome {
  /** an agent result state, or `lost` when a restarted agent found it unfinished */
  state: string;
  exitCode: number | null;
  signal: string | null;
  /** ms since epoch */
  finishedAt: number;
  /** false when it was never started (cancelled, expired or stopped before its spawn) */
  started?: boolean;
}

/** Who to tell about an accepted invocation: kept so that a restarted agent can still answer. */
export interface JournaledRoute {
  taskId: string;
  /** routing key of its replies on the replies exchange (the command's signed `replyTo`) */
  replyTo: string;
}

/** An accepted invocation the agent stopped before it ended (found when the journal is opened). */
export interface Unfinished extends JournaledRoute {
  invocationId: string;
  /** true once the agent had decided to spawn it ({@link InvocationJournal.markSpawning}): it may have run */
  mayHaveRun: boolean;
}

/** A reply journaled before it was published, and not yet confirmed by the broker. */
export interface UnconfirmedReply {
  invocationId: string;
  /** the whole reply, as it is (re-)published */
  reply: ReplyMessage;
  replyTo: string;
}

/** One invocation's fields; each journal line holds some of them, later lines adding to earlier ones. */
interface Entry {
  /** ms since epoch: the command's expiry */
  exp: number;
  /** task id (absent in entries written before the journal kept routes) */
  task?: string;
  /** reply route */
  route?: string;
  /** set (fsynced) right before the spawn: without it, the command never started */
  spawn?: true;
  out?: JournaledOutcome;
  /** the final reply, journaled (fsynced) before it is published; dropped once confirmed */
  res?: ReplyMessage;
  /** the broker confirmed `res` */
  ok?: true;
  /** a temp file it writes (a put's beside its destination, a stdin's in the state dir), journaled before it exists */
  tmp?: string;
}

/**
 * The agent's record of every invocation it has accepted, so that a command is run at most once
 * even across agent restarts, and so that a restarted agent can still say what became of each: an
 * invocation id is appended and fsynced here *before* its delivery is acked, and a redelivered id
 * found here is answered, never run again.
 *
 * On disk: `<stateDir>/journal.log`, JSON lines `{"id":…,"exp":…, …}` (`exp` in ms since epoch),
 * each adding fields to its invocation: `task` and `route` when accepted (fsync), `spawn` right
 * before the spawn (fsync), `tmp` before a transfer creates its temp file (fsync), `out` and `res` (how it ended, and the whole final reply) before that
 * reply is published (fsync), `ok` once the broker confirmed it (no fsync: losing it only re-sends
 * a reply the controller stores idempotently). Every message is checked against it, not only
 * redelivered ones: a re-published or replayed copy arrives with `redelivered = false`. Entries
 * past `exp` + {@link JOURNAL_RETENTION_MS} with no reply left to send are dropped when the
 * journal is opened, and the file is then rewritten (temp file + rename) with only the live ones.
 * A torn last line (crash mid-write) is ignored.
 */
export class InvocationJournal {
  /** invocation id → its fields */
  private readonly entries = new Map<string, Entry>();
  private fd: number | null = null;
  /** lines in the file now, live or not */
  private lines = 0;
  private readonly path: string;

  private constructor(
    private readonly dir: string,
    private readonly clock: Clock,
  ) {
    this.path = join(dir, FILE);
  }

  /** Creates `stateDir` (mode 0700) if needed, loads the journal and compacts it; `clock` dates retention. */
  static open(stateDir: string, clock: Clock = new SystemClock()): InvocationJournal {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const journal = new InvocationJournal(stateDir, clock);
    journal.load();
    journal.compact();
    return journal;
  }

  /** Live entries. */
  get size(): number {
    return this.entries.size;
  }

  /** True when `invocationId` was accepted before (in this run or an earlier one). */
  has(invocationId: string): boolean {
    return this.entries.has(invocationId);
  }

  /** How an accepted invocation ended; null while it runs, or when the agent died before it could say. */
  outcomeOf(invocationId: string): JournaledOutcome | null {
    return this.entries.get(invocationId)?.out ?? null;
  }

  /**
   * Records an accepted invocation durably (write + fsync) before returning, with whom to answer
   * about it. Throws if the disk refuses it; the caller must then not run the command.
   */
  append(invocationId: string, expiresAt: number, route?: JournaledRoute): void {
    const e: Entry = route ? { exp: expiresAt, task: route.taskId, route: route.replyTo } : { exp: expiresAt };
    this.write(invocationId, e, true);
    this.entries.set(invocationId, e);
    if (this.lines > 2 * this.entries.size + COMPACT_SLACK) this.compact();
  }

  /** Records durably (fsync) that the agent is about to spawn it. Throws if the disk refuses; then do not spawn. */
  markSpawning(invocationId: string): void {
    const e = this.entries.get(invocationId);
    if (!e) throw new Error(`invocation ${invocationId} is not journaled`);
    this.write(invocationId, { exp: e.exp, spawn: true }, true);
    e.spawn = true;
  }

  /**
   * Records how an accepted invocation ended. With `reply` (the final reply about to be published)
   * it is durable (fsync) before returning, and {@link unconfirmed} lists it until
   * {@link markConfirmed}; without, it is not fsynced: it only improves the answer to a replay.
   * Throws if the disk refuses.
   */
  recordOutcome(invocationId: string, out: JournaledOutcome, reply?: ReplyMessage): void {
    const e = this.entries.get(invocationId);
    if (!e) return;
    this.write(invocationId, reply ? { exp: e.exp, out, res: reply } : { exp: e.exp, out }, reply !== undefined);
    e.out = out;
    if (reply) e.res = reply;
  }

  /**
   * Records durably (fsync) the temp file an invocation is about to create, so that a restarted
   * agent can unlink it ({@link tempFiles}). Throws if the disk refuses; then do not create it.
   */
  recordTemp(invocationId: string, path: string): void {
    const e = this.entries.get(invocationId);
    if (!e) throw new Error(`invocation ${invocationId} is not journaled`);
    this.write(invocationId, { exp: e.exp, tmp: path }, true);
    e.tmp = path;
  }

  /** Temp files journaled by invocations (some long gone): what a restarted agent unlinks. */
  tempFiles(): { invocationId: string; path: string; finished: boolean }[] {
    const out: { invocationId: string; path: string; finished: boolean }[] = [];
    for (const [invocationId, e] of this.entries)
      if (e.tmp) out.push({ invocationId, path: e.tmp, finished: e.out !== undefined });
    return out;
  }

  /** The broker confirmed the journaled reply of `invocationId`: it need not be sent again. */
  markConfirmed(invocationId: string): void {
    const e = this.entries.get(invocationId);
    if (!e?.res) return;
    delete e.res;
    e.ok = true;
    try {
      this.write(invocationId, { exp: e.exp, ok: true }, false);
    } catch {
      // Only costs a harmless re-send after a restart.
    }
  }

  /** Journaled final replies the broker has not confirmed (after a restart: to publish again). */
  unconfirmed(): UnconfirmedReply[] {
    const out: UnconfirmedReply[] = [];
    for (const [invocationId, e] of this.entries)
      if (e.res && e.route) out.push({ invocationId, reply: e.res, replyTo: e.route });
    return out;
  }

  /** Accepted invocations with no recorded end and a known route: what a restarted agent must report. */
  unfinished(): Unfinished[] {
    const out: Unfinished[] = [];
    for (const [invocationId, e] of this.entries)
      if (!e.out && e.task && e.route)
        out.push({ invocationId, taskId: e.task, replyTo: e.route, mayHaveRun: e.spawn === true });
    return out;
  }

  /** Drops entries past retention and rewrites the file with the rest, atomically. */
  compact(): void {
    const now = this.clock.now();
    for (const [id, e] of this.entries) if (e.exp + JOURNAL_RETENTION_MS < now && !e.res) this.entries.delete(id);
    const body = [...this.entries].map(([id, e]) => `${JSON.stringify({ id, ...e })}\n`).join('');
    writeFileAtomically(this.path, body, 0o600);
    this.closeFd();
    this.syncDir();
    this.fd = openSync(this.path, 'a', 0o600);
    this.lines = this.entries.size;
  }

  /** Closes the file; `has` keeps answering from memory. */
  close(): void {
    this.closeFd();
  }

  private load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const { id, ...fields } = JSON.parse(line) as Entry & { id?: unknown };
        if (typeof id !== 'string' || typeof fields.exp !== 'number') continue;
        const e = Object.assign(this.entries.get(id) ?? { exp: fields.exp }, fields);
        if (e.ok) delete e.res;
        this.entries.set(id, e);
      } catch {
        // A line torn by a crash mid-write: its ack never happened, so the broker redelivers it.
      }
    }
  }

  /** Appends one line of `id`'s fields; with `sync`, durable (fsync) before returning. */
  private write(id: string, fields: Entry, sync: boolean): void {
    if (this.fd === null) throw new Error('journal is closed');
    writeSync(this.fd, `${JSON.stringify({ id, ...fields })}\n`);
    if (sync) fsyncSync(this.fd);
    this.lines++;
  }

  /** Makes the rename itself durable. */
  private syncDir(): void {
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  private closeFd(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
