import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { ProcessRunner } from '../exec/process.runner';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import type { InvocationJournal } from '../journal/invocation.journal';
import type { Waiting } from './inbox.admission';
import { OutputStreamer, outputMessage, STREAM_DEFAULTS } from './output.streamer';
import { resultMessage, startedMessage } from './reply.builder';
import { sendRefusal } from './reply.publisher';
import type { ReplyPublisher } from './reply.publisher';

/** A started invocation: its run, and a promise that settles once its result is handed to the publisher. */
export interface Launched {
  handle: RunHandle;
  reported: Promise<void>;
}

/**
 * Runs an admitted command at most once: journals it with fsync, acks it, and only then spawns it;
 * streams its output live (unless the signed command says `live: false`), answers `started`, and
 * when it ends journals the outcome and sends the `result`, the last live chunks first.
 */
export class InvocationLauncher {
  constructor(
    private readonly journal: InvocationJournal,
    private readonly runner: ProcessRunner,
    private readonly replies: Pick<ReplyPublisher, 'send' | 'sendLive'>,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Starts `w`; null when it could not be journaled (then it is rejected and answered `error`, never run). */
  launch(w: Waiting): Launched | null {
    const { delivery: d, command: c } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    try {
      this.journal.append(c.invocationId, c.expiresAt);
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
    const handle = this.spawn(w, streamer);
    if (handle.pid !== null) this.announce(w, handle);
    const reported = handle.outcome
      .then((o) => this.report(w, o, streamer))
      .catch((err: Error) =>
        this.log.error(
          { taskId: c.taskId, correlationId: c.invocationId, err: err.message },
          'failed to report invocation',
        ),
      );
    return { handle, reported };
  }

  private spawn(w: Waiting, streamer: OutputStreamer | null): RunHandle {
    const { command: c, grant: g } = w;
    const handle = this.runner.start({
      command: c.command,
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
          },
          'killing process group',
        ),
    });
    if (g.note)
      this.log.info({ taskId: c.taskId, correlationId: c.invocationId, note: g.note }, 'policy adjusted command');
    return handle;
  }

  /** `started`, and its log lines. */
  private announce(w: Waiting, h: RunHandle): void {
    const { command: c, grant: g } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    this.replies.send(startedMessage(ids, h.startedAt!, h.pid!), w.replyTo);
    this.log.info(
      { taskId: c.taskId, correlationId: c.invocationId, pid: h.pid, timeoutMs: g.timeoutMs, user: g.user },
      'invocation started',
    );
    this.log.debug(
      { correlationId: c.invocationId, command: c.command.slice(0, 200), cwd: c.cwd, envNames: Object.keys(c.env) },
      'invocation command',
    );
  }

  /** Journals how it ended, sends the last live chunks, then the `result`. */
  private report(w: Waiting, o: RunOutcome, streamer: OutputStreamer | null): void {
    const c = w.command;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    try {
      const { state, exitCode, signal, finishedAt } = o;
      this.journal.recordOutcome(c.invocationId, { state, exitCode, signal, finishedAt });
    } catch (err) {
      // Only the answer to a later replay loses detail; the result itself must still go out.
      this.log.error(
        { taskId: c.taskId, correlationId: c.invocationId, err: (err as Error).message },
        'cannot journal the outcome',
      );
    }
    streamer?.end({ stdout: o.stdout.truncated, stderr: o.stderr.truncated }); // the last chunks go before the result
    this.replies.send(resultMessage(ids, o), w.replyTo);
    this.log.info(
      {
        taskId: c.taskId,
        correlationId: c.invocationId,
        state: o.state,
        exitCode: o.exitCode,
        signal: o.signal,
        durationMs: o.durationMs,
        stdoutBytes: o.stdout.bytes,
        stderrBytes: o.stderr.bytes,
        chunks: streamer?.sent ?? 0,
        reason: o.reason,
      },
      'invocation finished',
    );
  }
}
