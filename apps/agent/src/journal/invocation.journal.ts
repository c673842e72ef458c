import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
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
  state: string;
  exitCode: number | null;
  signal: string | null;
  /** ms since epoch */
  finishedAt: number;
  /** false when it was cancelled before it ever started */
  started?: boolean;
}

interface Entry {
  /** ms since epoch: the command's expiry */
  exp: number;
  out?: JournaledOutcome;
}

/**
 * The agent's record of every invocation it has accepted, so that a command is run at most once
 * even across agent restarts: an invocation id is appended and fsynced here *before* its delivery
 * is acked, and a redelivered id found here is answered, never run again.
 *
 * On disk: `<stateDir>/journal.log`, one JSON line `{"id":…,"exp":…}` per accepted invocation
 * (`exp` in ms since epoch), and a second line `{"id":…,"exp":…,"out":{…}}` when it ends, so that a
 * replay is answered with how the first run went. Every message is checked against it, not only
 * redelivered ones: a re-published or replayed copy arrives with `redelivered = false`. Entries past `exp` + {@link JOURNAL_RETENTION_MS} are dropped when the
 * journal is opened, and the file is then rewritten (temp file + rename) with only the live ones.
 * A torn last line (crash mid-write) is ignored.
 */
export class InvocationJournal {
  /** invocation id → expiry (ms since epoch) and outcome once known */
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
   * Records how an accepted invocation ended. Not fsynced: it only improves the answer to a replay
   * (without it the replay is still refused, as "outcome unknown").
   */
  recordOutcome(invocationId: string, out: JournaledOutcome): void {
    const e = this.entries.get(invocationId);
    if (!e || this.fd === null) return;
    e.out = out;
    writeSync(this.fd, `${JSON.stringify({ id: invocationId, exp: e.exp, out })}\n`);
    this.lines++;
  }

  /**
   * Records an accepted invocation durably (write + fsync) before returning. Throws if the disk
   * refuses it; the caller must then not run the command.
   */
  append(invocationId: string, expiresAt: number): void {
    if (this.fd === null) throw new Error('journal is closed');
    writeSync(this.fd, `${JSON.stringify({ id: invocationId, exp: expiresAt })}\n`);
    fsyncSync(this.fd);
    this.entries.set(invocationId, { exp: expiresAt });
    this.lines++;
    if (this.lines > 2 * this.entries.size + COMPACT_SLACK) this.compact();
  }

  /** Drops entries past retention and rewrites the file with the rest, atomically. */
  compact(): void {
    const now = this.clock.now();
    for (const [id, e] of this.entries) if (e.exp + JOURNAL_RETENTION_MS < now) this.entries.delete(id);
    const tmp = `${this.path}.tmp`;
    const body = [...this.entries].map(([id, e]) => `${JSON.stringify({ id, ...e })}\n`).join('');
    const tfd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(tfd, body);
      fsyncSync(tfd);
    } finally {
      closeSync(tfd);
    }
    this.closeFd();
    renameSync(tmp, this.path);
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
        const e = JSON.parse(line) as { id?: unknown; exp?: unknown; out?: JournaledOutcome };
        if (typeof e.id !== 'string' || typeof e.exp !== 'number') continue;
        const before = this.entries.get(e.id);
        this.entries.set(e.id, { exp: e.exp, out: e.out ?? before?.out });
      } catch {
        // A line torn by a crash mid-write: its ack never happened, so the broker redelivers it.
      }
    }
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
