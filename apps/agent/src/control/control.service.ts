import type { Channel, GetMessage, Message } from 'amqplib';
import { agentControlQueue, decodeCancel, verifyBody } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { AgentIdentity } from '../identity/agent.identity';
import { misaddressing } from '../inbox/inbox.decision';
import { InboxService } from '../inbox/inbox.service';

/**
 * Reads the host's control queue (`<ns>.ctl.<host>`): signed cancels from the controller. On every
 * (re)connect it first drains whatever waited there while the agent was away, and only then does
 * the inbox start consuming, so that a command cancelled while the agent was offline never starts.
 * A cancel is verified like a command (trusted key; this namespace, host and agent key); anything
 * else is dropped and logged.
 */
export class ControlService {
  private readonly log: Logger;
  private channel: Channel | null = null;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly identity: AgentIdentity,
    private readonly inbox: InboxService,
    root: Logger,
  ) {
    this.log = root.child({ component: 'control' });
  }

  /** Attaches before the inbox: on each connect, drain the backlog, then consume. */
  async start(): Promise<void> {
    const queue = agentControlQueue(this.config.namespace, this.config.host);
    await this.broker.connection.attach(async (model) => {
      const ch = await this.broker.connection.ownedChannel(model);
      this.channel = ch;
      let drained = 0;
      for (;;) {
        const m: GetMessage | false = await ch.get(queue, { noAck: false });
        if (!m) break;
        this.handle(ch, m);
        drained++;
      }
      if (drained > 0) this.log.info({ drained }, 'applied cancels that arrived while the agent was away');
      await ch.prefetch(16);
      await ch.consume(queue, (m) => m && this.handle(ch, m), { noAck: false });
    });
  }

  private handle(ch: Channel, m: Message): void {
    try {
      const v = verifyBody(
        m.content,
        m.properties.headers as Record<string, unknown> | undefined,
        this.identity.trusted,
      );
      const decoded = v.ok ? decodeCancel(m.content) : null;
      if (!v.ok || !decoded?.ok) {
        this.log.warn(
          {
            reason: v.ok ? (decoded && !decoded.ok ? decoded.reason : 'undecodable') : v.reason,
            messageId: m.properties.messageId,
          },
          'rejected control message',
        );
        return ch.nack(m, false, false);
      }
      const c = decoded.message;
      const misaddressed = misaddressing(c, {
        namespace: this.config.namespace,
        host: this.config.host,
        agentKeyId: this.identity.key.keyId,
      });
      if (misaddressed) {
        const { code, reason } = misaddressed;
        this.log.warn({ taskId: c.taskId, code, reason }, 'rejected control message: not addressed to this agent');
        return ch.nack(m, false, false);
      }
      this.inbox.cancel({
        taskId: c.taskId,
        invocationIds: c.invocationIds,
        expiresAt: c.expiresAt,
        replyTo: c.replyTo,
        requestedBy: c.requestedBy,
      });
      ch.ack(m);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'failed to apply a control message; dropped');
      ch.nack(m, false, false);
    }
  }

  async close(): Promise<void> {
    await this.channel?.close().catch(() => undefined);
  }
}
