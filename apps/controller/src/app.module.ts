import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Logger } from 'pino';
import { AggregatingAuditLog } from './audit/aggregating-audit.log';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { BrokerModule } from './broker/broker.module';
import { BrokerService } from './broker/broker.service';
import { ClusterChanges } from './cluster/cluster-changes.service';
import { ClusterModule } from './cluster/cluster.module';
import { ControllerConfig } from './config/controller.config';
import { CoreModule } from './core/core.module';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { UndeliveredConsumer } from './dead-letters/undelivered.consumer';
import { HttpExceptionFilter } from './errors/http-exception.filter';
import { EventsModule } from './events/events.module';
import { NotePublisher } from './events/note.publisher';
import { FilesModule } from './files/files.module';
import { HealthModule } from './health/health.module';
import { HostsModule } from './hosts/hosts.module';
import { HostsRegistry } from './hosts/hosts.registry';
import { MetricsEndpointModule } from './metrics/metrics.module';
import { OpenApiModule } from './openapi/openapi.module';
import { FetchedConsumer } from './results/fetched.consumer';
import { ResultsConsumer } from './results/results.consumer';
import { ResultsModule } from './results/results.module';
import { DeadlineSweeper } from './tasks/deadline.sweeper';
import { TasksModule } from './tasks/tasks.module';

/**
 * The controller: HTTP API (tasks, events, hosts, audit, metrics, health, its OpenAPI document), the dispatcher, the
 * consumers of results, dead letters and presence, the deadline sweeper, the wake-ups between
 * controllers sharing the database, and the stores (SQLite or PostgreSQL),
 * each in its feature module. Here: the global configuration and logger, the one exception
 * filter, and the start-up order across modules.
 *
 * Shutdown, in Nest's phases: module destroy stops every timer and listener (sweeper, rolling
 * scheduler, completion waits, SSE sessions); then the consumers stop here, the results
 * consumer storing and acking what it received, which so starts nothing new, and the audit log
 * writes the counts of the repeated refusals it holds; then the HTTP server
 * closes; then the broker connection, and the store last (StoreModule says how).
 */
@Module({})
export class AppModule implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly broker: BrokerService,
    private readonly results: ResultsConsumer,
    private readonly fetched: FetchedConsumer,
    private readonly undelivered: UndeliveredConsumer,
    private readonly hosts: HostsRegistry,
    private readonly sweeper: DeadlineSweeper,
    private readonly audit: AggregatingAuditLog,
    private readonly cluster: ClusterChanges,
    private readonly notes: NotePublisher,
  ) {}

  static forRoot(config: ControllerConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config, logger),
        BrokerModule,
        AuthModule,
        AuditModule,
        HostsModule,
        TasksModule,
        FilesModule,
        ResultsModule,
        ClusterModule,
        DeadLettersModule,
        EventsModule,
        MetricsEndpointModule.register(config),
        HealthModule,
        OpenApiModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }

  /** Attaches consumers before connecting, so the first connection sets everything up at once. */
  async onApplicationBootstrap(): Promise<void> {
    await this.results.start();
    await this.fetched.start();
    await this.undelivered.start();
    await this.hosts.start();
    await this.cluster.start();
    await this.broker.start();
    this.sweeper.start();
  }

  /** Stops the consumers once every timer and listener is gone (see the class comment). */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.results.stop(), this.fetched.stop(), this.undelivered.stop(), this.hosts.stop()]);
    await this.cluster.stop(); // after the results consumer: its last commits are announced
    await this.notes.stop(); // and noted in the events stream
    await this.audit.flush(); // the counts of repeated refusals not yet written
  }
}
