import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type InterruptedMessage, PROTOCOL_VERSION, type ReplyMessage } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { InvocationJournal, JournaledOutcome } from '../journal/invocation.journal';
import { refusedMessage } from './reply.builder';
import type { ReplyPublisher } from './reply.publisher';

/** Reason of the `lost` a restarted agent reports for a command it may have run. */
export const INTERRUPTED_REASON =
  'the agent stopped while it ran (restarted since): outcome unknown; it is not run again';

/** Reason of the `error` a restarted agent reports for a command it accepted and never spawned. */
export const NEVER_STARTED_REASON = 'not run: the agent stopped after accepting it, before starting it';

/**
 * What a restarted agent tells the controller from its journal, before it takes new work:
 * - every final reply journaled and never confirmed by the broker is published again (the
 *   controller stores it once, whatever the copies);
 * - every accepted invocation with no recorded end is reported: `interrupted` (the controller makes
 *   it `lost`) when the agent had decided to spawn it, a `result` of `error` ("not run") when the
 *   journal shows it never started. The report is itself journaled first, so a second crash
 *   re-sends it too.
 * Before that, it unlinks the temp files of transfers the journal holds (a put's temp file beside
 * its destination, never the destination itself) and every file left in the stdin directory:
 * nothing runs yet, so none is in use, and an interrupted put leaves no partial file behind.
 * Journal entries of older agents (no reply route) can only be logged.
 */
export class InboxRecovery {
  constructor(
    private readonly host: string,
    private readonly journal: InvocationJournal,
    private readonly replies: Pick<ReplyPublisher, 'sendConfirmed'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** where stdin files are received (`<stateDir>/stdin`); null = none to clean */
    private readonly stdinDir: string | null = null,
  ) {}

  /**
   * Unlinks the temp files journaled by invocations and the files of the stdin directory; returns
   * the paths it removed. Never throws (a file it cannot remove is logged).
   */
  removeTempFiles(): string[] {
    const paths = this.journal.tempFiles().map((t) => t.path);
    if (this.stdinDir !== null) {
      try {
        paths.push(...readdirSync(this.stdinDir).map((f) => join(this.stdinDir!, f)));
      } catch {
        // no stdin directory yet
      }
    }
    const removed: string[] = [];
    for (const path of new Set(paths)) {
      try {
        unlinkSync(path);
        removed.push(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') this.log.error({ path, err: (err as Error).message }, 'cannot remove a temp file');
      }
    }
    if (removed.length > 0) this.log.warn({ removed }, 'removed temp files of transfers the agent stopped');
    return removed;
  }

  /**
   * Removes transfer temp files ({@link removeTempFiles}), journals and sends the reports, then
   * re-sends every unconfirmed reply; returns how many of each.
   */
  recover(): { reported: number; resent: number } {
    this.removeTempFiles();
    const now = this.clock.now();
    const unfinished = this.journal.unfinished();
    for (const u of unfinished) {
      const ids = { invocationId: u.invocationId, taskId: u.taskId, host: this.host };
      const reply: ReplyMessage = u.mayHaveRun
        ? ({
            v: PROTOCOL_VERSION,
            kind: 'interrupted',
            ...ids,
            reportedAt: now,
            reason: INTERRUPTED_REASON,
          } satisfies InterruptedMessage)
        : refusedMessage(ids, 'error', NEVER_STARTED_REASON, now);
      const out: JournaledOutcome = u.mayHaveRun
        ? { state: 'lost', exitCode: null, signal: null, finishedAt: now }
        : { state: 'error', exitCode: null, signal: null, finishedAt: now, started: false };
      try {
        this.journal.recordOutcome(u.invocationId, out, reply);
      } catch (err) {
        this.log.error(
          { correlationId: u.invocationId, err: (err as Error).message },
          'cannot journal a restart report',
        );
      }
      this.log.warn(
        { taskId: u.taskId, correlationId: u.invocationId, state: out.state, mayHaveRun: u.mayHaveRun },
        'reporting an invocation this agent stopped before it ended',
      );
    }
    const resend = this.journal.unconfirmed();
    for (const r of resend)
      void this.replies
        .sendConfirmed(r.reply, r.replyTo)
        .then((ok) => ok && this.journal.markConfirmed(r.invocationId));
    const resent = resend.length - unfinished.length;
    if (resend.length > 0)
      this.log.info({ reported: unfinished.length, resent }, 'sending replies journaled before the restart');
    return { reported: unfinished.length, resent };
  }
}
