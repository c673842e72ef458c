import { Inject, Injectable } from '@nestjs/common';
import type { ReturnedMessage } from '@warren/amqp';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { type InvocationUpdate, TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { MetricsService } from '../metrics/metrics.service';
import { CommandPublisher } from './command.publisher';
import { CompletionNotifier } from './completion.notifier';
import { CommandTrust, isGrant } from './command-trust';

/** Commands signed and published in one turn of the event loop. */
export const PUBLISH_SLICE = 100;
/** Most commands of one task published and not yet confirmed by the broker. */
export const MAX_UNCONFIRMED = 2_000;
/** ms of waiting for confirms after which a task's dispatch logs that the broker paces it */
const PACED_LOG_MS = 1_000;

/**
 * Publishes a task's commands, one per host, back to back ({@link CommandPublisher}), then awaits
 * their confirms together. Only hosts {@link CommandTrust} lets through get one; the others get their
 * verdict (`unknown_host`, `rejected`) at once and without sending anything. An unroutable command
 * (no queue for that host) comes back as `basic.return` before its confirm and becomes
 * `unknown_host` at once. A command the broker did not confirm ends `error`.
 */
@Injectable()
export class DispatcherService {
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    private readonly publisher: CommandPublisher,
    private readonly trust: CommandTrust,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
    private readonly metrics: MetricsService,
  ) {
    this.log = root.child({ component: 'dispatcher' });
    this.broker.onReturn((msg) => {
      this.onReturn(msg).catch((err: Error) =>
        this.log.error({ err: err.message, host: msg.fields.routingKey }, 'returned command not recorded'),
      );
    });
  }

  /** Publishes every invocation of `task`; resolves when each is confirmed or marked `error`. */
  async dispatch(
    task: TaskRecord,
    all: { id: string; host: string }[],
    issuedAt: number,
    visible?: (host: string) => boolean,
  ): Promise<void> {
    const invocations = await this.refuseUntrusted(task, all, issuedAt, visible);
    const { settled, pacedMs } = await this.publishPaced(task, invocations, issuedAt);
    const failures = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [{ inv: invocations[i], err: s.reason as Error }] : [],
    );
    if (failures.length > 0) {
      const now = this.clock.now();
      for (const f of failures)
        this.log.error(
          { taskId: task.id, host: f.inv.host, correlationId: f.inv.id, err: f.err.message },
          'command not sent',
        );
      const { completedTaskIds } = await this.store.applyUpdates(
        failures.map((f) => ({
          kind: 'verdict',
          invocationId: f.inv.id,
          state: 'error',
          reason: `not sent: ${f.err.message}`,
          at: now,
        })),
        now,
      );
      this.notifier.notify(completedTaskIds);
    }
    this.log.info(
      {
        taskId: task.id,
        hosts: invocations.length,
        failed: failures.length,
        ms: this.clock.now() - issuedAt,
        ...(pacedMs > 0 ? { pacedMs } : {}),
      },
      'task dispatched',
    );
  }

  /**
   * Publishes the commands {@link PUBLISH_SLICE} at a time, yielding to the event loop between
   * slices (signing and framing 10,000 commands at once would hold it for seconds, and `/healthz`,
   * replies and other tasks with it), and with at most {@link MAX_UNCONFIRMED} of this task's
   * commands unconfirmed: when the broker confirms slower than that (its flow control, a disk
   * alarm), publishing waits for it instead of piling commands into the socket, and the wait is
   * counted (`warren_publish_paced_seconds_total`) and logged once per task. Resolves with each
   * command's outcome, in order, and the ms spent waiting.
   */
  private async publishPaced(
    task: TaskRecord,
    invocations: { id: string; host: string; agentKeyId: string }[],
    issuedAt: number,
  ): Promise<{ settled: PromiseSettledResult<void>[]; pacedMs: number }> {
    const sends: Promise<void>[] = [];
    let pacedMs = 0;
    for (let i = 0; i < invocations.length; i += PUBLISH_SLICE) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      // Every command before this index is settled before the slice goes (earlier ones already were).
      const settledBefore = i + PUBLISH_SLICE - MAX_UNCONFIRMED;
      if (settledBefore > 0) {
        const t0 = performance.now();
        await Promise.allSettled(sends.slice(Math.max(0, settledBefore - PUBLISH_SLICE), settledBefore));
        const waited = performance.now() - t0;
        if (pacedMs + waited >= PACED_LOG_MS && pacedMs < PACED_LOG_MS)
          this.log.warn(
            { taskId: task.id, sent: i, hosts: invocations.length, unconfirmed: MAX_UNCONFIRMED },
            'the broker confirms commands slower than they are published: publishing paced to its confirms',
          );
        // Only a real wait counts: the window's commands already confirmed cost a turn, not the broker's pace.
        if (waited >= 1) {
          pacedMs += waited;
          this.metrics.publishPaced(waited / 1000);
        }
      }
      for (const inv of invocations.slice(i, i + PUBLISH_SLICE))
        sends.push(this.publisher.command(task, inv, issuedAt));
    }
    return { settled: await Promise.allSettled(sends), pacedMs: Math.round(pacedMs) };
  }

  /** Marks the invocations of hosts without an accepted key; returns the others, with their accepted key. */
  private async refuseUntrusted(
    task: TaskRecord,
    invocations: { id: string; host: string }[],
    now: number,
    visible?: (host: string) => boolean,
  ): Promise<{ id: string; host: string; agentKeyId: string }[]> {
    const sendable: { id: string; host: string; agentKeyId: string }[] = [];
    const verdicts: InvocationUpdate[] = [];
    for (const inv of invocations) {
      const verdict = await this.trust.check(inv.host, now, visible);
      if (isGrant(verdict)) {
        sendable.push({ ...inv, agentKeyId: verdict.agentKeyId });
        continue;
      }
      const { state, reason } = verdict;
      verdicts.push({ kind: 'verdict', invocationId: inv.id, state, reason, at: now });
      this.log.warn(
        { taskId: task.id, host: inv.host, correlationId: inv.id, state },
        'command not sent: host not trusted',
      );
    }
    if (verdicts.length > 0) this.notifier.notify((await this.store.applyUpdates(verdicts, now)).completedTaskIds);
    return sendable;
  }

  private async onReturn(msg: ReturnedMessage): Promise<void> {
    const invocationId = msg.properties.correlationId as string | undefined;
    if (!invocationId) return;
    const host = msg.fields.routingKey;
    const now = this.clock.now();
    const { applied, completedTaskIds } = await this.store.applyUpdates(
      [
        {
          kind: 'verdict',
          invocationId,
          state: 'unknown_host',
          reason: `no agent has ever registered host ${host} on this broker (${msg.fields.replyText})`,
          at: now,
        },
      ],
      now,
    );
    if (applied)
      this.log.warn({ host, correlationId: invocationId, state: 'unknown_host' }, 'command returned unroutable');
    this.notifier.notify(completedTaskIds);
  }
}
