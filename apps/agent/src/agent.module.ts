import { type DynamicModule, Module } from '@nestjs/common';
import { Clock, ROOT_LOGGER, SystemClock } from '@warren/runtime';
import type { Logger } from 'pino';
import { AgentLifecycle } from './agent.lifecycle';
import { BrokerService } from './broker/broker.service';
import { AgentConfig } from './config/agent.config';
import { ProcessRunner } from './exec/process.runner';
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
          useFactory: (clock: Clock) =>
            new ProcessRunner({ baseEnv: config.childEnv, maxOutputBytes: config.maxOutputBytes, clock }),
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
