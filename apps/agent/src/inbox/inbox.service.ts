import { Inject, Injectable } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import { agentQueue, type CommandMessage, type RejectCode, resultsQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import type { RunHandle } from '../exec/run.types';
import { AgentIdentity } from '../identity/agent.identity';
import { InvocationJournal } from '../journal/invocation.journal';
import { evaluatePolicy } from '../policy/policy.decision';
import type { PolicyGrant } from '../policy/policy.types';
import { agentIdentity } from '../policy/user.database';
import { ROOT_LOGGER } from '@warren/runtime';
import { admit, decideStart, replayReason, type Seen } from './inbox.decision';
import { refusedMessage, replyRoute, resultMessage, startedMessage } from './reply.builder';
import { OutputStreamer, outputMessage, STREAM_DEFAULTS } from './output.streamer';
import { ReplyPublisher } from './reply.publisher';

/** A valid command waiting for a slot; its delivery is still unacked, so it survives our death. */
interface Waiting {
  delivery: Delivery;
  command: CommandMessage;
  /** how the local policy lets it run: user, clamped timeout, output cap */
  grant: PolicyGrant;
  /** routing key of its replies (the command's signed `replyTo`) */
  replyTo: string;
}

/** Reason given for commands killed because the agent stops. */
export const SHUTDOWN_REASON = 'agent shutting down';

/**
 * The host's inbox: consumes `<ns>.agent.<host>` and runs each command at most once, at most
 * `concurrency` at a time.
 *
 * Every delivery is decided here and ends in exactly one ack or reject. Before anything else acts
 * on it, its signature is verified against the trusted controller keys, then its host, its issue
 * and expiry times and its invocation id against everything accepted here (see {@link admit}).
 * Anything refused is answered `rejected` with a code and a reason, logged, and never run: what
 * could not be verified is rejected without requeue and answered on the default results route
 * (its own reply-to cannot be trusted); a verified refusal is acked. Valid ones wait, unacked, in a local FIFO: acking frees a prefetch slot, so the
 * broker's prefetch alone would not bound concurrency, and an unacked message is redelivered if the
 * agent dies while it waits. When a slot frees up the command is checked (already running here,
 * journaled before, expired), then journaled with fsync, acked, and only then spawned: at most once,
 * even across crashes. A waiting delivery whose channel died is dropped (the broker requeues it).
 */
@Injectable()
export class InboxService {
  private consumer: Consumer | null = null;
  private readonly waiting: Waiting[] = [];
  /** invocation id → settles once its result is handed to the publisher */
  private readonly active = new Map<string, Promise<void>>();
  /** invocation id → its run, to cancel it */
  private readonly handles = new Map<string, RunHandle>();
  private accepting = true;
  private readonly log: Logger;
  /** who the agent process is, for the policy's root and user-switch checks */
  private readonly agentUser = agentIdentity();

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly journal: InvocationJournal,
    private readonly runner: ProcessRunner,
    private readonly replies: ReplyPublisher,
    private readonly identity: AgentIdentity,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'inbox' });
  }

  /** Commands started and not yet reported. */
  get running(): number {
    return this.active.size;
  }

  /** Commands received and waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Attaches the consumer (prefetch = concurrency); it subscribes on every (re)connect. */
  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: agentQueue(this.config.namespace, this.config.host),
      prefetch: this.config.concurrency,
      logger: this.log,
      handler: (d) => this.handle(d),
    });
    await this.consumer.start();
    // Deliveries of a lost channel will come again on the new one; stop holding the dead copies.
    this.broker.connection.on('disconnected', () => this.dropDead());
  }

  /** Decides what to do with one delivery. Never throws. */
  handle(d: Delivery): void {
    if (!this.accepting) return void d.reject(true); // arrived while stopping: leave it to the next run
    const { correlationId, messageId, headers } = d.properties;
    const admission = admit(
      { content: d.content, headers: headers as Record<string, unknown> | undefined, correlationId },
      {
        host: this.config.host,
        trusted: this.identity.trusted,
        now: Date.now(),
        skewMs: this.config.clockSkewMs,
        seen: (id) => this.seen(id),
        outcomeOf: (id) => this.journal.outcomeOf(id),
      },
    );
    if (admission.action === 'reject') {
      const { code, reason, answer, verified } = admission;
      // A verified refusal is settled for good; an unverifiable message goes to the dead letters, never back.
      if (verified) d.ack();
      else d.reject(false);
      this.log.warn(
        {
          code,
          reason,
          taskId: answer.taskId,
          correlationId: answer.invocationId,
          messageId,
          verified,
          redelivered: d.redelivered,
        },
        'rejected message',
      );
      const route = verified ? (this.decodedReplyTo(d) ?? this.defaultRoute) : this.defaultRoute;
      return this.refuse({ ...answer, host: this.config.host }, 'rejected', reason, route, code);
    }
    const c = admission.command;
    const replyTo = replyRoute(c.replyTo) ?? this.defaultRoute;
    // The local policy has the last word, whatever the (valid) signature says.
    const decision = evaluatePolicy(
      this.config.policy,
      { command: c.command, runAs: c.runAs, timeoutMs: c.timeoutMs, envNames: Object.keys(c.env) },
      this.agentUser,
    );
    if (!decision.ok) {
      d.ack();
      this.log.warn(
        {
          code: 'policy',
          reason: decision.reason,
          taskId: c.taskId,
          correlationId: c.invocationId,
          messageId,
          verified: true,
        },
        'rejected message',
      );
      return this.refuse(
        { invocationId: c.invocationId, taskId: c.taskId, host: c.host },
        'rejected',
        decision.reason,
        replyTo,
        'policy',
      );
    }
    this.log.debug(
      { taskId: c.taskId, correlationId: c.invocationId, redelivered: d.redelivered, queued: this.waiting.length },
      'command received',
    );
    this.waiting.push({ delivery: d, command: c, grant: decision, replyTo });
    this.pump();
  }

  private get defaultRoute(): string {
    return resultsQueue(this.config.namespace);
  }

  /** The signed reply route of a verified command (it decoded once already, so this cannot fail). */
  private decodedReplyTo(d: Delivery): string | null {
    try {
      return replyRoute((JSON.parse(d.content.toString('utf8')) as { replyTo?: unknown }).replyTo);
    } catch {
      return null;
    }
  }

  /** Where an invocation id stands here: running, waiting for a slot, or accepted before. */
  private seen(invocationId: string): Seen {
    if (this.active.has(invocationId)) return 'running';
    if (this.waiting.some((w) => w.delivery.live && w.command.invocationId === invocationId)) return 'waiting';
    return this.journal.has(invocationId) ? 'journaled' : null;
  }

  /** Starts waiting commands while there are free slots. */
  private pump(): void {
    while (this.accepting && this.active.size < this.config.concurrency && this.waiting.length > 0) {
      const w = this.waiting.shift()!;
      if (!w.delivery.live) continue; // its channel died; the broker redelivers it
      try {
        this.consider(w);
      } catch (err) {
        // Unforeseen: settle it rather than leave it hanging, and keep serving.
        this.log.error(
          { err: (err as Error).message, correlationId: w.command.invocationId },
          'failed to handle command',
        );
        w.delivery.reject(false);
      }
    }
  }

  private consider(w: Waiting): void {
    const { delivery: d, command: c } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    const decision = decideStart(c, {
      now: Date.now(),
      skewMs: this.config.clockSkewMs,
      isRunning: (id) => this.active.has(id),
      isJournaled: (id) => this.journal.has(id),
    });
    const logIds = { taskId: c.taskId, correlationId: c.invocationId, redelivered: d.redelivered };
    switch (decision) {
      case 'duplicate': {
        d.ack();
        const reason = replayReason(
          this.active.has(c.invocationId) ? 'running' : 'journaled',
          this.journal.outcomeOf(c.invocationId),
        );
        this.log.warn({ ...logIds, code: 'replay', reason }, 'rejected message');
        return this.refuse(ids, 'rejected', reason, w.replyTo, 'replay');
      }
      case 'expired':
        d.ack();
        this.log.warn({ ...logIds, code: 'expired', expiresAt: c.expiresAt }, 'rejected message');
        return this.refuse(
          ids,
          'rejected',
          `expired ${new Date(c.expiresAt).toISOString()}, before it could start`,
          w.replyTo,
          'expired',
        );
      case 'run':
        return this.run(w);
    }
  }

  private run(w: Waiting): void {
    const { delivery: d, command: c } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    try {
      this.journal.append(c.invocationId, c.expiresAt);
    } catch (err) {
      // Unrecorded means it could run twice: refuse to run it at all.
      d.reject(false);
      this.log.error(
        { taskId: c.taskId, correlationId: c.invocationId, err: (err as Error).message },
        'cannot write the journal; command not run',
      );
      return this.refuse(ids, 'error', `agent cannot record the invocation: ${(err as Error).message}`, w.replyTo);
    }
    d.ack();
    const g = w.grant;
    // A run streams unless its (signed) command says `live: false`: a silent command costs nothing,
    // a chatty one at most ten chunks a second up to its cap.
    const streamer =
      c.live === false
        ? null
        : new OutputStreamer({
            ...STREAM_DEFAULTS,
            send: (chunk) => this.replies.sendLive(outputMessage(ids, chunk), w.replyTo),
          });
    const onOutput = streamer
      ? (stream: 'stdout' | 'stderr', bytes: Buffer) => streamer.push(stream, bytes)
      : undefined;
    const h = this.runner.start({
      command: c.command,
      cwd: c.cwd,
      env: c.env,
      timeoutMs: g.timeoutMs,
      killGraceMs: c.killGraceMs,
      maxOutputBytes: g.maxOutputBytes,
      maxProcesses: g.maxProcesses,
      runAs: g,
      onOutput,
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
    if (h.pid !== null) {
      this.replies.send(startedMessage(ids, h.startedAt!, h.pid), w.replyTo);
      this.log.info(
        { taskId: c.taskId, correlationId: c.invocationId, pid: h.pid, timeoutMs: g.timeoutMs, user: g.user },
        'invocation started',
      );
      this.log.debug(
        { correlationId: c.invocationId, command: c.command.slice(0, 200), cwd: c.cwd, envNames: Object.keys(c.env) },
        'invocation command',
      );
    }
    const done = h.outcome
      .then((o) => {
        try {
          this.journal.recordOutcome(c.invocationId, {
            state: o.state,
            exitCode: o.exitCode,
            signal: o.signal,
            finishedAt: o.finishedAt,
          });
        } catch (err) {
          // Only the answer to a later replay loses detail; the result itself must still go out.
          this.log.error(
            { taskId: c.taskId, correlationId: c.invocationId, err: (err as Error).message },
            'cannot journal the outcome',
          );
        }
        streamer?.end({ stdout: o.stdout.truncated, stderr: o.stderr.truncated }); // the last chunks go before the result
        this.replies.send(resultMessage(ids, o), w.replyTo);
        const fields = {
          taskId: c.taskId,
          correlationId: c.invocationId,
          state: o.state,
          exitCode: o.exitCode,
          signal: o.signal,
          durationMs: o.durationMs,
        };
        this.log.info(
          {
            ...fields,
            stdoutBytes: o.stdout.bytes,
            stderrBytes: o.stderr.bytes,
            chunks: streamer?.sent ?? 0,
            reason: o.reason,
          },
          'invocation finished',
        );
      })
      .catch((err: Error) =>
        this.log.error(
          { taskId: c.taskId, correlationId: c.invocationId, err: err.message },
          'failed to report invocation',
        ),
      );
    this.active.set(c.invocationId, done);
    this.handles.set(c.invocationId, h);
    void done.finally(() => {
      this.active.delete(c.invocationId);
      this.handles.delete(c.invocationId);
      this.pump();
    });
  }

  private refuse(
    ids: { invocationId: string; taskId: string; host: string },
    state: 'rejected' | 'error' | 'cancelled',
    reason: string,
    route: string,
    code?: RejectCode,
  ): void {
    this.replies.send(refusedMessage(ids, state, reason, Date.now(), code), route);
  }

  private dropDead(): void {
    const before = this.waiting.length;
    const live = this.waiting.filter((w) => w.delivery.live);
    this.waiting.splice(0, this.waiting.length, ...live);
    if (before > live.length)
      this.log.info(
        { dropped: before - live.length },
        'dropped waiting commands of a lost channel; the broker redelivers them',
      );
  }

  /**
   * Cancels invocations (a verified cancel from the controller): a running one is killed (its
   * whole process group; it ends `cancelled`), one waiting for a slot is acked and answered
   * `cancelled` without running, and one that has not arrived yet is journaled as cancelled so that
   * it never runs when it does arrive, even after a restart. Returns what happened to each.
   */
  cancel(ids: {
    taskId: string;
    invocationIds: string[];
    expiresAt: number;
    replyTo: string;
    requestedBy: string;
  }): Record<string, 'killed' | 'dequeued' | 'barred' | 'finished'> {
    const reason = `cancelled by ${ids.requestedBy}`;
    const outcome: Record<string, 'killed' | 'dequeued' | 'barred' | 'finished'> = {};
    for (const id of ids.invocationIds) {
      const h = this.handles.get(id);
      if (h) {
        h.cancel(reason);
        outcome[id] = 'killed';
        continue;
      }
      const i = this.waiting.findIndex((w) => w.command.invocationId === id);
      if (i >= 0) {
        const [w] = this.waiting.splice(i, 1);
        this.bar(id, w.command.expiresAt);
        w.delivery.ack();
        this.refuse(
          { invocationId: id, taskId: w.command.taskId, host: w.command.host },
          'cancelled',
          reason,
          w.replyTo,
        );
        outcome[id] = 'dequeued';
        continue;
      }
      if (this.journal.has(id)) {
        outcome[id] = 'finished';
        continue;
      }
      this.bar(id, ids.expiresAt);
      outcome[id] = 'barred';
    }
    this.log.info({ taskId: ids.taskId, requestedBy: ids.requestedBy, outcome }, 'cancel applied');
    return outcome;
  }

  /** Journals `id` as cancelled before it started, so that no copy of it ever runs. */
  private bar(id: string, expiresAt: number): void {
    try {
      this.journal.append(id, expiresAt);
      this.journal.recordOutcome(id, {
        state: 'cancelled',
        exitCode: null,
        signal: null,
        finishedAt: Date.now(),
        started: false,
      });
    } catch (err) {
      this.log.error(
        { correlationId: id, err: (err as Error).message },
        'cannot journal a cancel; it holds until the agent restarts',
      );
    }
  }

  /**
   * Stops taking work: cancels the consumer, and puts every command that has not started back in
   * the queue (reject with requeue) so that the next run of this agent gets it.
   */
  async stopTaking(): Promise<void> {
    this.accepting = false;
    await this.consumer?.cancel();
    const requeued = this.waiting.splice(0);
    for (const w of requeued) w.delivery.reject(true);
    if (requeued.length > 0) this.log.info({ requeued: requeued.length }, 'returned waiting commands to the queue');
  }

  /**
   * Lets running commands finish for up to `graceMs`, then kills the rest (they end `cancelled`,
   * reason {@link SHUTDOWN_REASON}). Resolves when every result has been handed to the publisher.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.active.size === 0) return;
    this.log.info({ running: this.active.size, graceMs }, 'waiting for running commands to finish');
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all([...this.active.values()]).then(() => true);
    const finished = await Promise.race([
      all,
      new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (finished) return;
    this.log.warn({ running: this.active.size }, 'shutdown grace over; killing running commands');
    await this.runner.killAll(SHUTDOWN_REASON);
    await Promise.all([...this.active.values()]);
  }

  /** Closes the consumer's channel. */
  async close(): Promise<void> {
    await this.consumer?.close();
  }
}
