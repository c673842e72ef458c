import { Consumer, type Delivery } from '@warren/amqp';
import { agentQueue } from '@warren/protocol';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { AgentIdentity } from '../identity/agent.identity';
import { InvocationJournal } from '../journal/invocation.journal';
import { ChunkRouter } from '../transfer/chunk.router';
import { FileTransfers } from '../transfer/file.transfers';
import { stdinDir } from '../transfer/stdin.executor';
import { InboxAdmission, type Waiting } from './inbox.admission';
import { decideStart, replayReason, type Seen } from './inbox.decision';
import { InboxRecovery } from './inbox.recovery';
import { InvocationLauncher, type Launched } from './invocation.launcher';
import { type Refusal, ReplyPublisher, sendRefusal } from './reply.publisher';

/** Reason given for commands killed because the agent stops. */
export const SHUTDOWN_REASON = 'agent shutting down';

/**
 * The host's inbox: consumes `<ns>.agent.<host>` and runs each command at most once, at most
 * `concurrency` at a time.
 *
 * Every delivery is decided by the inbox and ends in exactly one ack or reject. Before anything
 * else acts on it, {@link InboxAdmission} verifies it and asks the local policy; anything refused
 * is answered `rejected` with a code and a reason, logged, and never run. Valid ones wait, unacked,
 * in a local FIFO: acking frees a prefetch slot, so the broker's prefetch alone would not bound
 * concurrency, and an unacked message is redelivered if the agent dies while it waits. When a slot
 * frees up the command is checked (already running here, journaled before, expired), then
 * {@link InvocationLauncher} journals it with fsync, acks it, and only then spawns it: at most once,
 * even across crashes. A waiting delivery whose channel died is dropped (the broker requeues it).
 */
export class InboxService {
  private consumer: Consumer | null = null;
  private readonly waiting: Waiting[] = [];
  /** invocation id → settles once its result is handed to the publisher */
  private readonly active = new Map<string, Promise<void>>();
  /** invocation id → its launch, to cancel it (before or after its spawn) */
  private readonly handles = new Map<string, Launched>();
  private accepting = true;
  private readonly log: Logger;
  private readonly admission: InboxAdmission;
  private readonly launcher: InvocationLauncher;
  private readonly recovery: InboxRecovery;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly journal: InvocationJournal,
    private readonly runner: ProcessRunner,
    private readonly replies: ReplyPublisher,
    identity: AgentIdentity,
    root: Logger,
    private readonly clock: Clock,
    chunks: ChunkRouter,
  ) {
    this.log = root.child({ component: 'inbox' });
    this.admission = new InboxAdmission(config, identity, journal, replies, clock, this.log);
    const files = new FileTransfers(
      { journal, chunks, replies, clock, log: this.log, stateDir: config.stateDir },
      config.policy,
    );
    this.launcher = new InvocationLauncher(journal, runner, replies, clock, this.log, files);
    this.recovery = new InboxRecovery(config.host, journal, replies, clock, this.log, stdinDir(config.stateDir));
  }

  /** Commands started and not yet reported. */
  get running(): number {
    return this.active.size;
  }

  /** Commands received and waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Sends what the journal holds from before a restart ({@link InboxRecovery}: reports of
   * invocations it stopped before they ended, results never confirmed), then attaches the consumer
   * (prefetch = concurrency); it subscribes on every (re)connect.
   */
  async start(): Promise<void> {
    this.recovery.recover();
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
    const w = this.admission.admit(d, (id) => this.seen(id));
    if (!w) return;
    const c = w.command;
    this.log.debug(
      { taskId: c.taskId, correlationId: c.invocationId, redelivered: d.redelivered, queued: this.waiting.length },
      'command received',
    );
    this.waiting.push(w);
    this.pump();
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
      now: this.clock.now(),
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
        return this.refuse({ ids, state: 'rejected', reason, route: w.replyTo, code: 'replay' });
      }
      case 'expired':
        d.ack();
        this.log.warn({ ...logIds, code: 'expired', expiresAt: c.expiresAt }, 'rejected message');
        return this.refuse({
          ids,
          state: 'rejected',
          reason: `expired ${new Date(c.expiresAt).toISOString()}, before it could start`,
          route: w.replyTo,
          code: 'expired',
        });
      case 'run':
        return this.run(w);
    }
  }

  private run(w: Waiting): void {
    const launched = this.launcher.launch(w);
    if (!launched) return;
    const id = w.command.invocationId;
    this.active.set(id, launched.reported);
    this.handles.set(id, launched);
    void launched.reported.finally(() => {
      this.active.delete(id);
      this.handles.delete(id);
      this.pump();
    });
  }

  private refuse(r: Refusal): void {
    sendRefusal(this.replies, this.clock, r);
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
   * whole process group; it ends `cancelled`; one still waiting for the confirm of its `started`
   * is never spawned), one waiting for a slot is acked and answered
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
        const ids = { invocationId: id, taskId: w.command.taskId, host: w.command.host };
        this.refuse({ ids, state: 'cancelled', reason, route: w.replyTo });
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
        finishedAt: this.clock.now(),
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
    for (const h of this.handles.values()) h.cancel(SHUTDOWN_REASON); // those not spawned yet never start
    await this.runner.killAll(SHUTDOWN_REASON);
    await Promise.all([...this.active.values()]);
  }

  /** Closes the consumer's channel. */
  async close(): Promise<void> {
    await this.consumer?.close();
  }
}
