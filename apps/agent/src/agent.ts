import { SystemClock } from '@warren/runtime';
import type { Logger } from 'pino';
import { AgentLifecycle } from './agent.lifecycle';
import { BrokerService } from './broker/broker.service';
import type { AgentConfig } from './config/agent.config';
import { ControlService } from './control/control.service';
import { ProcessRunner } from './exec/process.runner';
import { chooseTracking } from './exec/process.tracking';
import { AgentIdentity } from './identity/agent.identity';
import { InboxService } from './inbox/inbox.service';
import { ReplyPublisher } from './inbox/reply.publisher';
import { InvocationJournal } from './journal/invocation.journal';
import { LoopDelay } from './loop.delay';
import { PresenceService } from './presence/presence.service';
import { ChunkRouter } from './transfer/chunk.router';

/** The agent, built: {@link Agent.start} once, {@link Agent.stop} once (on the first signal). */
export interface Agent {
  /** Attaches the consumers and heartbeats, then connects (in the background, retrying). */
  start(): Promise<void>;
  /** The graceful shutdown: stop taking work, drain within the grace, confirm results, goodbye, close. */
  stop(signal?: string): Promise<void>;
  /** For a second signal: `killAllNow()`. */
  readonly runner: ProcessRunner;
}

/**
 * The agent's composition root: one broker connection, the inbox consumer that runs commands
 * through the process runner at most once (the journal), replies, and presence heartbeats; no
 * HTTP, no DI container. Every part is built here with `new`, each after what it takes; the order
 * of starting and stopping them is {@link AgentLifecycle}'s. Throws (a bad key, an unreadable
 * journal) before anything is started.
 */
export function createAgent(config: AgentConfig, logger: Logger): Agent {
  const clock = new SystemClock();
  const identity = AgentIdentity.load(config);
  const journal = InvocationJournal.open(config.stateDir, clock);
  // One cgroup subtree per agent, named so that agents sharing a cgroup never sweep each other's.
  const execLog = logger.child({ component: 'exec' });
  const { cgroups, note } = chooseTracking(
    config.processTracking,
    `warren.${config.namespace}.${config.host}`,
    execLog,
  );
  const loopDelay = new LoopDelay();
  const runner = new ProcessRunner({
    onRunningChange: (count) => loopDelay.running(count),
    baseEnv: config.childEnv,
    maxOutputBytes: config.maxOutputBytes,
    clock,
    cgroups,
    log: execLog,
    trackingNote: note,
  });
  const broker = new BrokerService(config, logger);
  const replies = new ReplyPublisher(broker, config, identity, clock, logger);
  const chunks = new ChunkRouter(config, broker, logger);
  const inbox = new InboxService(config, broker, journal, runner, replies, identity, logger, clock, chunks);
  const control = new ControlService(config, broker, identity, inbox, logger);
  const presence = new PresenceService(config, broker, runner, identity, clock, logger);
  const lifecycle = new AgentLifecycle(
    config,
    broker,
    inbox,
    control,
    replies,
    presence,
    journal,
    identity,
    runner,
    chunks,
    logger,
    loopDelay,
  );
  return {
    runner,
    start: () => lifecycle.start(),
    stop: (signal) => lifecycle.stop(signal),
  };
}
