import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { HostsModule } from '../hosts/hosts.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { ResultsConsumer } from './results.consumer';

/** The agents' replies: {@link ResultsConsumer} (started by AppModule) verifies and stores them. */
@Module({
  imports: [StoreModule, BrokerModule, HostsModule, TasksModule, TaskActivityModule, AuditModule, MetricsModule],
  providers: [ResultsConsumer],
  exports: [ResultsConsumer],
})
export class ResultsModule {}
