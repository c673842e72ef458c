import { type DynamicModule, Inject, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Clock, SystemClock } from '@warren/runtime';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { AuditController } from './audit/audit.controller';
import { AUTH_PROVIDERS } from './auth/auth.providers';
import { BrokerService } from './broker/broker.service';
import { ControllerConfig } from './config/controller.config';
import { HttpExceptionFilter } from './errors/http-exception.filter';
import { HealthController } from './health/health.controller';
import { HostsController } from './hosts/hosts.controller';
import { TaskEventLog } from './events/task-event.log';
import { TaskEvents } from './events/task-events';
import { TaskEventsController } from './events/task-events.controller';
import { HOST_KEY_REPOSITORY } from './hosts/host-keys.port';
import { HostKeysStore } from './hosts/host-keys.store';
import { SqliteHostKeyRepository } from './hosts/sqlite-host-key.repository';
import { HostsRegistry } from './hosts/hosts.registry';
import { ControllerKey } from './keys/controller-key';
import { ROOT_LOGGER } from './logger';
import { metricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { MetricsSources } from './metrics/metrics.sources';
import { ResultsConsumer } from './results/results.consumer';
import { UndeliveredConsumer } from './results/undelivered.consumer';
import { DATABASE, type Db, openDatabase } from './store/database';
import { SqliteTaskStore } from './store/sqlite-task.store';
import { TASK_STORE, type TaskStore } from './store/task-store.port';
import { CompletionNotifier } from './tasks/completion.notifier';
import { DeadlineSweeper } from './tasks/deadline.sweeper';
import { DispatcherService } from './tasks/dispatcher.service';
import { CancelService } from './tasks/cancel.service';
import { TaskActionsController } from './tasks/task-actions.controller';
import { TasksController } from './tasks/tasks.controller';
import { TasksService } from './tasks/tasks.service';
import { RollingScheduler } from './tasks/rolling.scheduler';
import { TargetResolver } from './tasks/target.resolver';

/** Closes the task store last, after every consumer has flushed into it. */
class StoreCloser {
  constructor(@Inject(TASK_STORE) private readonly store: TaskStore) {}
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
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
            // 503 (no broker yet, or a /healthz probe saying so) is a state, not a bug: warn, not error.
            customLogLevel: (_req, res, err) =>
              res.statusCode === 503
                ? 'warn'
                : err || res.statusCode >= 500
                  ? 'error'
                  : res.statusCode >= 400
                    ? 'info'
                    : 'debug',
          },
        }),
      ],
      controllers: [
        TasksController,
        TaskActionsController,
        TaskEventsController,
        HostsController,
        HealthController,
        AuditController,
        metricsController(config),
      ],
      providers: [
        { provide: ControllerConfig, useValue: config },
        { provide: ROOT_LOGGER, useValue: logger },
        { provide: Clock, useClass: SystemClock },
        { provide: DATABASE, useFactory: () => openDatabase(config.dbPath) },
        // The store reports every change it commits, so invocation metrics and live task events need nothing from whoever applied it.
        {
          provide: TASK_STORE,
          useFactory: (db: Db, metrics: MetricsService, events: TaskEvents) =>
            new SqliteTaskStore(db, (c) => {
              metrics.invocationsChanged(c);
              events.changed(c.map((x) => x.taskId));
            }),
          inject: [DATABASE, MetricsService, TaskEvents],
        },
        MetricsService,
        MetricsSources,
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        ...AUTH_PROVIDERS,
        StoreCloser,
        BrokerService,
        CompletionNotifier,
        DispatcherService,
        TasksService,
        ResultsConsumer,
        UndeliveredConsumer,
        HostsRegistry,
        { provide: HOST_KEY_REPOSITORY, useFactory: (db: Db) => new SqliteHostKeyRepository(db), inject: [DATABASE] },
        HostKeysStore,
        ControllerKey,
        TaskEvents,
        TaskEventLog,
        CancelService,
        DeadlineSweeper,
        TargetResolver,
        RollingScheduler,
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
