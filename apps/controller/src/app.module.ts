import { type DynamicModule, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { BrokerService } from './broker/broker.service';
import { ControllerConfig } from './config/controller.config';
import { HttpExceptionFilter } from './errors/http-exception.filter';
import { HealthController } from './health/health.controller';
import { HostsController } from './hosts/hosts.controller';
import { HostsRegistry } from './hosts/hosts.registry';
import { ROOT_LOGGER } from './logger';
import { ResultsConsumer } from './results/results.consumer';
import { UndeliveredConsumer } from './results/undelivered.consumer';
import { SqliteTaskStore } from './store/sqlite-task.store';
import { TASK_STORE, type TaskStore } from './store/task-store.port';
import { CompletionNotifier } from './tasks/completion.notifier';
import { DeadlineSweeper } from './tasks/deadline.sweeper';
import { DispatcherService } from './tasks/dispatcher.service';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';

/** Closes the task store last, after every consumer has flushed into it. */
class StoreCloser {
  constructor(@Inject(TASK_STORE) private readonly store: TaskStore) {}
  onApplicationShutdown(): void {
    this.store.close();
  }
}

/**
 * The controller: HTTP API (tasks, hosts, health), the dispatcher, the consumers of results,
 * dead letters and presence, the deadline sweeper, and the SQLite task store.
 */
@Module({})
export class AppModule implements OnApplicationBootstrap {
  constructor(
    private readonly broker: BrokerService,
    private readonly results: ResultsConsumer,
    private readonly undelivered: UndeliveredConsumer,
    private readonly hosts: HostsRegistry,
    private readonly sweeper: DeadlineSweeper,
  ) {}

  static forRoot(config: ControllerConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            // Access logs at debug: one line per request would dominate the log at fleet scale.
            customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
          },
        }),
      ],
      controllers: [TasksController, HostsController, HealthController],
      providers: [
        { provide: ControllerConfig, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: TASK_STORE, useFactory: () => new SqliteTaskStore(config.dbPath) },
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        StoreCloser,
        BrokerService,
        CompletionNotifier,
        DispatcherService,
        TasksService,
        ResultsConsumer,
        UndeliveredConsumer,
        HostsRegistry,
        DeadlineSweeper,
      ],
    };
  }

  /** Attaches consumers before connecting, so the first connection sets everything up at once. */
  async onApplicationBootstrap(): Promise<void> {
    await this.results.start();
    await this.undelivered.start();
    await this.hosts.start();
    await this.broker.start();
    this.sweeper.start();
  }
}
