import { type DynamicModule, Module } from '@nestjs/common';
import { Clock, ROOT_LOGGER, SystemClock } from '@warren/runtime';
import type { Logger } from 'pino';
import { AgentLifecycle } from './agent.lifecycle';
import { BrokerService } from './broker/broker.service';
import { AgentConfig } from './config/agent.config';
import { ProcessRunner } from './exec/process.runner';
import { chooseTracking } from './exec/process.tracking';
import { AgentIdentity } from './identity/agent.identity';
import { ControlService } from './control/control.service';
import { InboxService } from './inbox/inbox.service';
import { ReplyPublisher } from './inbox/reply.publisher';
import { InvocationJournal } from './journal/invocation.journal';
import { PresenceService } from './presence/presence.service';

/**
 * The agent: one broker connection, the inbox consumer that runs commands through the process
 * runner at most once (the journal), replies, and presence heartbeats. No HTTP.
 */
@Module({})
export class AgentModule {
  static forRoot(config: AgentConfig, logger: Logger): DynamicModule {
    return {
      module: AgentModule,
      providers: [
        { provide: AgentConfig, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: Clock, useClass: SystemClock },
        { provide: AgentIdentity, useFactory: () => AgentIdentity.load(config) },
        {
          provide: InvocationJournal,
          useFactory: (clock: Clock) => InvocationJournal.open(config.stateDir, clock),
          inject: [Clock],
        },
        {
          provide: ProcessRunner,
          useFactory: (clock: Clock) => {
            // One cgroup subtree per agent, named so that agents sharing a cgroup never sweep each other's.
            const log = logger.child({ component: 'exec' });
            const name = `warren.${config.namespace}.${config.host}`;
            const { cgroups, note } = chooseTracking(config.processTracking, name, log);
            return new ProcessRunner({
              baseEnv: config.childEnv,
              maxOutputBytes: config.maxOutputBytes,
              clock,
              cgroups,
              log,
              trackingNote: note,
            });
          },
          inject: [Clock],
        },
        BrokerService,
        ReplyPublisher,
        InboxService,
        ControlService,
        PresenceService,
        AgentLifecycle,
      ],
    };
  }
}
