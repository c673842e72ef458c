import { agentQueue, PROTOCOL_VERSION } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from './broker/broker.service';
import { AgentConfig } from './config/agent.config';
import { BUILD_STAMP } from './config/build.stamp';
import { ControlService } from './control/control.service';
import { ProcessRunner } from './exec/process.runner';
import { InboxService } from './inbox/inbox.service';
import { ReplyPublisher } from './inbox/reply.publisher';
import { AgentIdentity } from './identity/agent.identity';
import { InvocationJournal } from './journal/invocation.journal';
import type { LoopDelay } from './loop.delay';
import { describePolicy } from './policy/policy.decision';
import { PresenceService } from './presence/presence.service';
import { ChunkRouter } from './transfer/chunk.router';

/** ms; on shutdown, how long to wait for the broker to confirm the last results. */
const RESULT_DRAIN_MS = 5_000;

/**
 * Starts and stops the agent's parts in order: the order that matters lives here, in one place,
 * rather than in each part. Built, with every part, by `createAgent` (agent.ts).
 */
export class AgentLifecycle {
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
    private readonly chunks: ChunkRouter,
    root: Logger,
    private readonly loopDelay: LoopDelay,
  ) {
    this.log = root.child({ component: 'agent' });
  }

  /** Attaches the consumer and heartbeats, then connects (in the background, retrying). */
  async start(): Promise<void> {
    // What a timeout or cancel will kill: a cgroup per command, or (with why) only its process group.
    this.log.info(this.runner.tracking, 'process tracking');
    // Control first: on every connect its backlog is applied before the inbox consumes.
    await this.control.start();
    await this.inbox.start();
    // Chunks for the puts and stdins the inbox runs; a chunk for no transfer is acked and dropped.
    await this.chunks.start();
    this.presence.start();
    await this.broker.start();
    const c = this.config;
    this.log.info(
      {
        version: BUILD_STAMP.version,
        commit: BUILD_STAMP.commit,
        protocol: PROTOCOL_VERSION,
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
  async stop(signal?: string): Promise<void> {
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
    await this.chunks.close();
    this.runner.close();
    this.journal.close();
    this.loopDelay.stop();
    // How late the loop ran since start, and how much of that the commands' spawns (fork/exec) took.
    this.log.info({ eventLoopDelayMs: this.loopDelay.summary(), spawnMs: this.runner.startTimes }, 'agent stopped');
  }
}
