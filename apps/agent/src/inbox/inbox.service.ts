import { Inject, Injectable } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import { agentQueue, type CommandMessage, decodeCommand, resultsQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { InvocationJournal } from '../journal/invocation.journal';
import { ROOT_LOGGER } from '../logger';
import { admit, decideStart } from './inbox.decision';
import { refusedMessage, replyRoute, resultMessage, startedMessage } from './reply.builder';
import { ReplyPublisher } from './reply.publisher';

/** A valid command waiting for a slot; its delivery is still unacked, so it survives our death. */
interface Waiting {
  delivery: Delivery;
  command: CommandMessage;
  /** routing key of its replies */
  replyTo: string;
}

/** Reason given for commands killed because the agent stops. */
export const SHUTDOWN_REASON = 'agent shutting down';

/**
 * The host's inbox: consumes `<ns>.agent.<host>` and runs each command at most once, at most
 * `concurrency` at a time.
 *
 * Every delivery is decided here and ends in exactly one ack or reject. Invalid messages and
 * commands for another host are rejected without requeue (and answered `rejected` when they name
 * an invocation). Valid ones wait, unacked, in a local FIFO: acking frees a prefetch slot, so the
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
  private accepting = true;
  private readonly log: Logger;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly journal: InvocationJournal,
    private readonly runner: ProcessRunner,
    private readonly replies: ReplyPublisher,
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
    const { correlationId, messageId, replyTo } = d.properties;
    const admission = admit(decodeCommand(d.content), this.config.host);
    if (admission.action === 'reject') {
      d.reject(false);
      this.log.warn({ reason: admission.reason, correlationId, messageId, ...admission.answer }, 'rejected message');
      const route = replyRoute(replyTo);
      if (admission.answer && route) this.refuse({ ...admission.answer, host: this.config.host }, 'rejected', admission.reason, route);
      return;
    }
    const c = admission.command;
    this.log.debug({ taskId: c.taskId, correlationId: c.invocationId, redelivered: d.redelivered, queued: this.waiting.length }, 'command received');
    this.waiting.push({ delivery: d, command: c, replyTo: replyRoute(replyTo) ?? resultsQueue(this.config.namespace) });
    this.pump();
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
        this.log.error({ err: (err as Error).message, correlationId: w.command.invocationId }, 'failed to handle command');
        w.delivery.reject(false);
      }
    }
  }

  private consider(w: Waiting): void {
    const { delivery: d, command: c } = w;
    const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
    const decision = decideStart(c, { now: Date.now(), isRunning: (id) => this.active.has(id), isJournaled: (id) => this.journal.has(id) });
    const logIds = { taskId: c.taskId, correlationId: c.invocationId, redelivered: d.redelivered };
    switch (decision) {
      case 'running':
        d.ack();
        return void this.log.warn(logIds, 'duplicate of a running invocation; not run again');
      case 'duplicate':
        d.ack();
        this.log.warn(logIds, 'duplicate invocation; not run again');
        return this.refuse(ids, 'rejected', 'duplicate: already accepted', w.replyTo);
      case 'expired':
        d.ack();
        this.log.warn({ ...logIds, expiresAt: c.expiresAt }, 'command expired before it could start');
        return this.refuse(ids, 'rejected', 'expired before it could start', w.replyTo);
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
      this.log.error({ taskId: c.taskId, correlationId: c.invocationId, err: (err as Error).message }, 'cannot write the journal; command not run');
      return this.refuse(ids, 'error', `agent cannot record the invocation: ${(err as Error).message}`, w.replyTo);
    }
    d.ack();
    const h = this.runner.start({ command: c.command, cwd: c.cwd, env: c.env, timeoutMs: c.timeoutMs, killGraceMs: c.killGraceMs });
    if (h.pid !== null) {
      this.replies.send(startedMessage(ids, h.startedAt!, h.pid), w.replyTo);
      this.log.info({ taskId: c.taskId, correlationId: c.invocationId, pid: h.pid, timeoutMs: c.timeoutMs }, 'invocation started');
      this.log.debug({ correlationId: c.invocationId, command: c.command.slice(0, 200), cwd: c.cwd, envNames: Object.keys(c.env) }, 'invocation command');
    }
    const done = h.outcome.then((o) => {
      this.replies.send(resultMessage(ids, o), w.replyTo);
      const fields = { taskId: c.taskId, correlationId: c.invocationId, state: o.state, exitCode: o.exitCode, signal: o.signal, durationMs: o.durationMs };
      this.log.info({ ...fields, stdoutBytes: o.stdout.bytes, stderrBytes: o.stderr.bytes, reason: o.reason }, 'invocation finished');
    }).catch((err: Error) => this.log.error({ taskId: c.taskId, correlationId: c.invocationId, err: err.message }, 'failed to report invocation'));
    this.active.set(c.invocationId, done);
    void done.finally(() => {
      this.active.delete(c.invocationId);
      this.pump();
    });
  }

  private refuse(ids: { invocationId: string; taskId: string; host: string }, state: 'rejected' | 'error', reason: string, route: string): void {
    this.replies.send(refusedMessage(ids, state, reason), route);
  }

  private dropDead(): void {
    const before = this.waiting.length;
    const live = this.waiting.filter((w) => w.delivery.live);
    this.waiting.splice(0, this.waiting.length, ...live);
    if (before > live.length) this.log.info({ dropped: before - live.length }, 'dropped waiting commands of a lost channel; the broker redelivers them');
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
    const finished = await Promise.race([all, new Promise<false>((r) => (timer = setTimeout(() => r(false), graceMs)))]);
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
