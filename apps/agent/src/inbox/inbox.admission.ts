import type { Delivery } from '@warren/amqp';
import { unrunnableProblem } from '@warren/api';
import { type CommandMessage, resultsQueue } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent.config';
import type { AgentIdentity } from '../identity/agent.identity';
import type { InvocationJournal } from '../journal/invocation.journal';
import { evaluateTransfer, stdinRefusal } from '../policy/files.policy';
import { evaluatePolicy } from '../policy/policy.decision';
import type { PolicyGrant } from '../policy/policy.types';
import { agentIdentity, type GroupDatabase, systemGroupDatabase } from '../policy/user.database';
import { admit, type Seen } from './inbox.decision';
import { replyRoute } from './reply.builder';
import { type Refusal, sendRefusal } from './reply.publisher';
import type { ReplyPublisher } from './reply.publisher';

/** A valid command waiting for a slot; its delivery is still unacked, so it survives our death. */
export interface Waiting {
  delivery: Delivery;
  command: CommandMessage;
  /** how the local policy lets it run: user, clamped timeout, output cap */
  grant: PolicyGrant;
  /** routing key of its replies (the command's signed `replyTo`) */
  replyTo: string;
}

/**
 * The inbox's door: verifies a delivery (signature against the trusted controller keys, namespace,
 * host, this agent's key, issue and expiry times, invocation id; see {@link admit}), then asks the
 * local policy, which has the last word whatever the signature says. A refusal is settled, logged
 * and answered here: what could not be verified is rejected without requeue and answered on the
 * default results route (its own reply-to cannot be trusted), and so is a command of another
 * namespace (its reply-to is that installation's, so our controller hears of it); any other
 * verified refusal is acked and answered on its reply-to.
 */
export class InboxAdmission {
  /** who the agent process is, for the policy's root and user-switch checks */
  private readonly agentUser = agentIdentity();

  constructor(
    private readonly config: AgentConfig,
    private readonly identity: AgentIdentity,
    private readonly journal: InvocationJournal,
    private readonly replies: Pick<ReplyPublisher, 'send'>,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** where a put's group is looked up */
    private readonly groups: GroupDatabase = systemGroupDatabase,
  ) {}

  /** Where replies go when a command names no usable route of its own. */
  get defaultRoute(): string {
    return resultsQueue(this.config.namespace);
  }

  /** The command of `d` ready to wait for a slot, or null once `d` was refused (settled, logged, answered). */
  admit(d: Delivery, seen: (invocationId: string) => Seen): Waiting | null {
    const { correlationId, messageId, headers } = d.properties;
    const admission = admit(
      { content: d.content, headers: headers as Record<string, unknown> | undefined, correlationId },
      {
        host: this.config.host,
        namespace: this.config.namespace,
        agentKeyId: this.identity.key.keyId,
        trusted: this.identity.trusted,
        now: this.clock.now(),
        skewMs: this.config.clockSkewMs,
        seen,
        outcomeOf: (id) => this.journal.outcomeOf(id),
      },
    );
    if (admission.action === 'reject') {
      const { code, reason, answer, verified } = admission;
      // A verified refusal is settled for good; an unverifiable message goes to the dead letters, never back.
      if (verified) d.ack();
      else d.reject(false);
      const logged = { taskId: answer.taskId, correlationId: answer.invocationId, messageId, verified };
      this.log.warn({ code, reason, ...logged, redelivered: d.redelivered }, 'rejected message');
      const ownRoute = verified && code !== 'wrong_namespace';
      const route = ownRoute ? (this.decodedReplyTo(d) ?? this.defaultRoute) : this.defaultRoute;
      this.refuse({ ids: { ...answer, host: this.config.host }, state: 'rejected', reason, route, code });
      return null;
    }
    const c = admission.command;
    const replyTo = replyRoute(c.replyTo) ?? this.defaultRoute;
    // What execve(2) would refuse (a controller older than the rule may send it) is refused here,
    // by the same rule as the API's, rather than failing with `spawn E2BIG`.
    const unrunnable = unrunnableProblem(c);
    // A put or get is decided by the policy's `files` section (its command is only a description);
    // a command with a stdin file by its command rules and the `files` size ceiling.
    const policy = this.config.policy;
    const tooBig = stdinRefusal(policy, c);
    const decision: ReturnType<typeof evaluatePolicy> = unrunnable
      ? { ok: false, reason: `this host cannot run it: ${unrunnable}` }
      : c.transfer
        ? evaluateTransfer(policy, c, this.agentUser, this.groups)
        : tooBig !== null
          ? { ok: false, reason: tooBig }
          : evaluatePolicy(
              policy,
              { command: c.command, runAs: c.runAs, timeoutMs: c.timeoutMs, envNames: Object.keys(c.env) },
              this.agentUser,
            );
    if (!decision.ok) {
      d.ack();
      const logged = { taskId: c.taskId, correlationId: c.invocationId, messageId, verified: true };
      this.log.warn({ code: 'policy', reason: decision.reason, ...logged }, 'rejected message');
      const ids = { invocationId: c.invocationId, taskId: c.taskId, host: c.host };
      this.refuse({ ids, state: 'rejected', reason: decision.reason, route: replyTo, code: 'policy' });
      return null;
    }
    return { delivery: d, command: c, grant: decision, replyTo };
  }

  private refuse(r: Refusal): void {
    sendRefusal(this.replies, this.clock, r);
  }

  /** The signed reply route of a verified command (it decoded once already, so this cannot fail). */
  private decodedReplyTo(d: Delivery): string | null {
    try {
      return replyRoute((JSON.parse(d.content.toString('utf8')) as { replyTo?: unknown }).replyTo);
    } catch {
      return null;
    }
  }
}
