import type { ResultMessage } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { ProcessRunner } from '../exec/process.runner';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import type { InvocationJournal } from '../journal/invocation.journal';
import type { FileTransfers } from '../transfer/file.transfers';
import type { Waiting } from './inbox.admission';
import { OutputStreamer, outputMessage, STREAM_DEFAULTS } from './output.streamer';
import { refusedMessage, type ReplyIds, resultMessage, startedMessage } from './reply.builder';
import { sendRefusal } from './reply.publisher';
import type { ReplyPublisher } from './reply.publisher';

/** An accepted invocation: a way to cancel it, and a promise that settles once its final reply is handed to the publisher. */
export interface Launched {
  /**
   * Cancels it: before the spawn it never starts (it ends `cancelled`, not started); after, its
   * process group is killed ({@link RunHandle.cancel}).
   */
  cancel(reason: string): void;
  reported: Promise<void>;
}

/** The replies a launch sends: confirmed ones, awaited, for `started` and the final reply. */
type Replies = Pick<ReplyPublisher, 'send' | 'sendLive' | 'sendConfirmed'>;

/**
 * Runs an admitted command at most once, and so that the controller always hears of a run:
 * 1. journals it with its reply route (fsync), then acks it;
 * 2. publishes `started` and waits for the broker's confirm: from then on the controller will
 *    know, even if the command takes its agent down at once (`lost` if the agent stays down,
 *    settled by its restart report if it comes back);
 * 3. journals that it is spawning it (fsync), so that a restarted agent can tell a command that
 *    never started from one that may have run, and spawns it, streaming its output live (unless
 *    the signed command says `live: false`); a put or a get runs its transfer instead of a spawn,
 *    and a command with `stdin` receives that file before its spawn ({@link FileTransfers});
 * 4. when it ends, journals the outcome *and the whole result* (fsync) before publishing it, so
 *    that a result the broker has not confirmed is sent again after an agent restart
 *    ({@link InboxRecovery}); marks it confirmed once the broker says so.
 * A cancel before the spawn, a `started` the broker refuses, or an expiry passed while waiting
 * for the confirm: the command is not run, and its result says so.
 */
export class InvocationLauncher {
  constructor(
    private readonly journal: InvocationJournal,
    private readonly runner: ProcessRunner,
    private readonly replies: Replies,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly files: FileTransfers,
  ) {}

  /** Starts `w`; null when it could not be journaled (then it is rejected and answered `error`, never run). */
  launch(w: Waiting): Launched | null {
    const { delivery: d, command: c } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    try {
      this.journal.append(c.invocationId, c.expiresAt, { taskId: c.taskId, replyTo: w.replyTo });
    } catch (err) {
      // Unrecorded means it could run twice: refuse to run it at all.
      d.reject(false);
      const message = (err as Error).message;
      this.log.error(
        { taskId: c.taskId, correlationId: c.invocationId, err: message },
        'cannot write the journal; command not run',
      );
      const reason = `agent cannot record the invocation: ${message}`;
      sendRefusal(this.replies, this.clock, { ids, state: 'error', reason, route: w.replyTo });
      return null;
    }
    d.ack();
    let run: RunHandle | null = null;
    let cancelled: string | null = null;
    const reported = this.start(w, ids, () => cancelled).then((started) => {
      if (!started) return;
      run = started.handle;
      return this.watch(w, ids, started.handle, started.streamer);
    });
    return {
      cancel: (reason) => {
        if (run) run.cancel(reason);
        else cancelled ??= reason;
      },
      reported: reported.catch((err: Error) =>
        this.log.error(
          { taskId: c.taskId, correlationId: c.invocationId, err: err.message },
          'failed to report invocation',
        ),
      ),
    };
  }

  /** Steps 2 and 3: null when it was not spawned (its final reply is then sent here). */
  private async start(
    w: Waiting,
    ids: ReplyIds,
    cancelledBy: () => string | null,
  ): Promise<{ handle: RunHandle; streamer: OutputStreamer | null } | null> {
    const c = w.command;
    const confirmed = await this.replies.sendConfirmed(startedMessage(ids, this.clock.now(), null), w.replyTo);
    const now = this.clock.now();
    const notRun = !confirmed
      ? { state: 'error' as const, reason: 'not run: the broker did not take its `started` reply' }
      : cancelledBy() !== null
        ? { state: 'cancelled' as const, reason: `${cancelledBy()} before it started` }
        : now > c.expiresAt
          ? {
              state: 'rejected' as const,
              reason: `expired ${new Date(c.expiresAt).toISOString()}, before it could start`,
            }
          : null;
    if (notRun) {
      const code = notRun.state === 'rejected' ? ('expired' as const) : undefined;
      this.finish(w, refusedMessage(ids, notRun.state, notRun.reason, now, code), false);
      this.log.warn({ taskId: c.taskId, correlationId: c.invocationId, ...notRun }, 'invocation not started');
      return null;
    }
    try {
      this.journal.markSpawning(c.invocationId);
    } catch (err) {
      const reason = `not run: the agent cannot record its start: ${(err as Error).message}`;
      this.finish(w, refusedMessage(ids, 'error', reason, now), false);
      this.log.error({ taskId: c.taskId, correlationId: c.invocationId, reason }, 'invocation not started');
      return null;
    }
    if (c.transfer) return { handle: this.files.transfer(w), streamer: null };
    // A run streams unless its (signed) command says `live: false`: a silent command costs nothing,
    // a chatty one at most ten chunks a second up to its cap.
    const streamer =
      c.live === false
        ? null
        : new OutputStreamer({
            ...STREAM_DEFAULTS,
            clock: this.clock,
            send: (chunk) => this.replies.sendLive(outputMessage(ids, chunk), w.replyTo),
          });
    const handle = c.stdin
      ? this.files.withStdin(w, (stdinPath) => this.spawn(w, streamer, stdinPath))
      : this.spawn(w, streamer);
    return { handle, streamer };
  }

  private spawn(w: Waiting, streamer: OutputStreamer | null, stdinPath?: string): RunHandle {
    const { command: c, grant: g } = w;
    const handle = this.runner.start({
      command: c.command,
      stdinPath,
      cwd: c.cwd,
      env: c.env,
      timeoutMs: g.timeoutMs,
      killGraceMs: c.killGraceMs,
      maxOutputBytes: g.maxOutputBytes,
      maxProcesses: g.maxProcesses,
      runAs: g,
      onOutput: streamer ? (stream, bytes) => streamer.push(stream, bytes) : undefined,
      // One line per signal sent to the group: SIGTERM at a timeout or cancel, SIGKILL after the grace.
      onKill: (k) =>
        this.log.warn(
          {
            taskId: c.taskId,
            correlationId: c.invocationId,
            pid: k.pid,
            signal: k.signal,
            state: k.state,
            reason: k.reason,
            graceMs: k.graceMs,
            cgroup: k.cgroup,
          },
          'killing the run',
        ),
    });
    if (g.note)
      this.log.info({ taskId: c.taskId, correlationId: c.invocationId, note: g.note }, 'policy adjusted command');
    if (handle.pid !== null) {
      this.log.info(
        { taskId: c.taskId, correlationId: c.invocationId, pid: handle.pid, timeoutMs: g.timeoutMs, user: g.user },
        'invocation started',
      );
      this.log.debug(
        { correlationId: c.invocationId, command: c.command.slice(0, 200), cwd: c.cwd, envNames: Object.keys(c.env) },
        'invocation command',
      );
    }
    return handle;
  }

  /** Step 4, once the run ends: the last live chunks, then the journaled `result`. */
  private async watch(w: Waiting, ids: ReplyIds, h: RunHandle, streamer: OutputStreamer | null): Promise<void> {
    const o: RunOutcome = await h.outcome;
    streamer?.end({ stdout: o.stdout.truncated, stderr: o.stderr.truncated }); // the last chunks go before the result
    this.finish(w, resultMessage(ids, o), true);
    this.log.info(
      {
        taskId: ids.taskId,
        correlationId: ids.invocationId,
        state: o.state,
        exitCode: o.exitCode,
        signal: o.signal,
        durationMs: o.durationMs,
        stdoutBytes: o.stdout.bytes,
        stderrBytes: o.stderr.bytes,
        chunks: streamer?.sent ?? 0,
        reason: o.reason,
        file: o.file,
      },
      'invocation finished',
    );
  }

  /** Journals the final reply (fsync), publishes it, and marks it confirmed once the broker says so. */
  private finish(w: Waiting, reply: ResultMessage, started: boolean): void {
    const id = w.command.invocationId;
    const out = { state: reply.state, exitCode: reply.exitCode, signal: reply.signal, finishedAt: reply.finishedAt };
    try {
      this.journal.recordOutcome(id, started ? out : { ...out, started: false }, reply);
    } catch (err) {
      // Then a restart cannot re-send it; the result itself must still go out.
      this.log.error(
        { taskId: w.command.taskId, correlationId: id, err: (err as Error).message },
        'cannot journal the outcome',
      );
    }
    void this.replies.sendConfirmed(reply, w.replyTo).then((ok) => ok && this.journal.markConfirmed(id));
  }
}
