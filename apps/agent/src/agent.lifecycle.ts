import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { agentQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from './broker/broker.service';
import { AgentConfig } from './config/agent.config';
import { ControlService } from './control/control.service';
import { ProcessRunner } from './exec/process.runner';
import { InboxService } from './inbox/inbox.service';
import { ReplyPublisher } from './inbox/reply.publisher';
import { AgentIdentity } from './identity/agent.identity';
import { InvocationJournal } from './journal/invocation.journal';
import { ROOT_LOGGER } from '@warren/runtime';
import { describePolicy } from './policy/policy.decision';
import { PresenceService } from './presence/presence.service';

/** ms; on shutdown, how long to wait for the broker to confirm the last results. */
const RESULT_DRAIN_MS = 5_000;

/**
 * Starts and stops the agent's parts in order. Nest runs each hook on all providers of a module at
 * once, so the order that matters lives here, in one place, rather than in each part's own hook.
 */
@Injectable()
export class AgentLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log: Logger;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly inbox: InboxService,
    private readonly control: ControlService,
    private readonly replies: ReplyPublisher,
    private readonly presence: PresenceService,
    private readonly journal: InvocationJournal,
    private readonly identity: AgentIdentity,
    private readonly runner: ProcessRunner,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'agent' });
  }

  /** Attaches the consumer and heartbeats, then connects (in the background, retrying). */
  async onApplicationBootstrap(): Promise<void> {
    // What a timeout or cancel will kill: a cgroup per command, or (with why) only its process group.
    this.log.info(this.runner.tracking, 'process tracking');
    // Control first: on every connect its backlog is applied before the inbox consumes.
    await this.control.start();
    await this.inbox.start();
    this.presence.start();
    await this.broker.start();
    const c = this.config;
    this.log.info(
      {
        namespace: c.namespace,
        queue: agentQueue(c.namespace, c.host),
        concurrency: c.concurrency,
        labels: c.labels,
        stateDir: c.stateDir,
        journaled: this.journal.size,
        policy: describePolicy(c.policy),
        trusted: c.trustedKeys.map((k) => k.keyId),
        keyId: this.identity.key.keyId,
      },
      'agent started',
    );
  }

  /**
   * Stop taking work (waiting commands go back to the queue), let running commands finish within
   * the shutdown grace and kill the rest as `cancelled`, wait for their results to be confirmed,
   * say goodbye, then close the broker connection and the journal.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.log.info({ signal, running: this.inbox.running, queued: this.inbox.queued }, 'shutting down');
    await this.inbox.stopTaking();
    await this.inbox.drain(this.config.shutdownGraceMs);
    if (!(await this.replies.drain(RESULT_DRAIN_MS))) {
      this.log.error({ pending: this.replies.pending }, 'broker did not confirm every result before shutdown');
    }
    this.presence.stop();
    await this.presence.goodbye();
    // The connection closes the consumer's channel with it (see BrokerService.close).
    await this.broker.close();
    await this.inbox.close();
    this.runner.close();
    this.journal.close();
    this.log.info({}, 'agent stopped');
  }
}
