import { Inject, Injectable } from '@nestjs/common';
import { retryNacked } from '@warren/amqp';
import {
  APP_ID,
  type CancelMessage,
  type CommandMessage,
  commandExchange,
  commandVersion,
  controlExchange,
  encode,
  fetchedQueue,
  MESSAGE_TYPES,
  resultsQueue,
  type Transfer,
} from '@warren/protocol';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ControllerKey } from '../keys/controller-key';
import { MetricsService } from '../metrics/metrics.service';
import { FileManifests } from '../files/file-manifests';
import type { TaskRecord } from '../store/task-store.port';

/**
 * Builds, signs and publishes one message to one agent: a command (on the command exchange,
 * mandatory so that an unroutable one comes back, expiring with the task's delivery timeout) or a
 * cancel (on the control exchange, which the agent reads before its inbox). Every body is signed
 * with the controller's key over its whole bytes (see libs/protocol signing.ts), and names the
 * namespace and the agent key it is for, so that a captured copy runs nowhere else. Each call resolves
 * when the broker has confirmed the message. A nack (a quorum queue between two leaders, during a
 * node's failover) is published again with backoff until the message would have expired; then, or
 * on any other failure, the call rejects.
 */
@Injectable()
export class CommandPublisher {
  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    private readonly signer: ControllerKey,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly manifests: FileManifests,
  ) {
    this.log = root.child({ component: 'publish' });
  }

  /**
   * A task's file transfer and stdin as a command carries them (protocol 2): a put or stdin with the
   * file's manifest, a get with the controllers' fetched queue as its `chunkReplyTo`; `{}` for a
   * plain command.
   */
  private async transferFields(task: TaskRecord): Promise<Pick<CommandMessage, 'transfer' | 'stdin'>> {
    const t = task.transfer;
    let transfer: Transfer | undefined;
    if (t?.op === 'put') {
      const { dest, mode, owner, group, mkdir } = t;
      transfer = { op: 'put', file: await this.manifests.of(t.file), dest, mode, owner, group, mkdir };
    } else if (t?.op === 'get')
      transfer = { op: 'get', path: t.path, maxBytes: t.maxBytes, chunkReplyTo: fetchedQueue(this.config.namespace) };
    return {
      ...(transfer ? { transfer } : {}),
      ...(task.stdin ? { stdin: await this.manifests.of(task.stdin.file) } : {}),
    };
  }

  private readonly log: Logger;

  /**
   * The command of `task` for one invocation, issued at `issuedAt` (ms) and addressed to the agent
   * key `inv.agentKeyId` (the host's accepted key, see CommandTrust); its publish is timed on `/metrics`.
   * A put, get or stdin task's command carries its transfer (protocol 2, see {@link transferFields}).
   */
  async command(
    task: TaskRecord,
    inv: { id: string; host: string; agentKeyId: string },
    issuedAt: number,
  ): Promise<void> {
    const ns = this.config.namespace;
    const fields: Omit<CommandMessage, 'v' | 'kind'> = {
      invocationId: inv.id,
      taskId: task.id,
      host: inv.host,
      namespace: ns,
      agentKeyId: inv.agentKeyId,
      command: task.command,
      runAs: task.runAs,
      cwd: task.cwd,
      env: task.env,
      timeoutMs: task.timeoutMs,
      killGraceMs: task.killGraceMs,
      issuedAt,
      expiresAt: issuedAt + task.deliveryTimeoutMs,
      replyTo: resultsQueue(ns),
      ...(task.live === false ? { live: false } : {}),
      ...(await this.transferFields(task)),
    };
    // Version 1 unless it carries a field of 2: an agent still at 1 keeps running plain commands.
    const msg: CommandMessage = { v: commandVersion(fields), kind: 'command', ...fields };
    const body = encode(msg);
    // A nack (a quorum inbox between leaders) is sent again until the command would have expired.
    return this.metrics.timePublish(inv.id, () =>
      this.retryingNacks(
        issuedAt + task.deliveryTimeoutMs,
        { taskId: task.id, host: inv.host, correlationId: inv.id },
        () =>
          this.broker.publisher.publish(commandExchange(ns), inv.host, body, {
            headers: this.signer.sign(body),
            persistent: true,
            mandatory: true,
            expiration: String(task.deliveryTimeoutMs),
            correlationId: inv.id,
            messageId: inv.id,
            replyTo: resultsQueue(ns),
            type: MESSAGE_TYPES.command,
            contentType: 'application/json',
            timestamp: Math.floor(issuedAt / 1000),
            appId: APP_ID,
          }),
      ),
    );
  }

  /**
   * Runs one confirmed publish again after each nack (`retryNacked`, `NACK_BACKOFF` of
   * `@warren/amqp`), logging each; a nack still coming at `giveUpAt` (ms since epoch) is final.
   */
  private retryingNacks(giveUpAt: number, ids: Record<string, string>, publish: () => Promise<void>): Promise<void> {
    return retryNacked(publish, {
      giveUpAt,
      now: () => this.clock.now(),
      onNack: (err, nacks, delayMs) =>
        this.log.warn(
          { ...ids, err: err.message, nacks, delayMs },
          'publish refused by the broker; publishing it again',
        ),
    });
  }

  /**
   * A cancel of `invocationIds` of `task` on `to.host`, addressed to its accepted agent key
   * `to.agentKeyId`, asked by `requestedBy` at `now` (ms).
   */
  cancel(
    task: Pick<TaskRecord, 'id' | 'deliveryTimeoutMs'>,
    to: { host: string; agentKeyId: string },
    invocationIds: string[],
    requestedBy: string,
    now: number,
  ): Promise<void> {
    const ns = this.config.namespace;
    const { host, agentKeyId } = to;
    const msg: CancelMessage = {
      // A cancel is the same in protocol 1 and 2: sent as 1, every agent still at 1 reads it.
      v: 1,
      kind: 'cancel',
      taskId: task.id,
      host,
      namespace: ns,
      agentKeyId,
      invocationIds,
      requestedBy,
      issuedAt: now,
      // Long enough to outlive any copy of these commands: a rolling run sends its hosts later than
      // createdAt, at the latest now, and each expires a delivery timeout after it was sent.
      expiresAt: now + task.deliveryTimeoutMs + this.config.deliveryGraceMs + 60_000,
      replyTo: resultsQueue(ns),
    };
    const body = encode(msg);
    return this.retryingNacks(msg.expiresAt, { taskId: task.id, host }, () =>
      this.broker.publisher.publish(controlExchange(ns), host, body, {
        headers: this.signer.sign(body),
        persistent: true,
        messageId: `${task.id}:${host}:${now}`,
        type: MESSAGE_TYPES.cancel,
        contentType: 'application/json',
        timestamp: Math.floor(now / 1000),
        appId: APP_ID,
      }),
    );
  }
}
