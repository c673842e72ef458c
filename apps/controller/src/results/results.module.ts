import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { HostsModule } from '../hosts/hosts.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { ReplyVerifier } from './reply.verifier';
import { ResultsConsumer } from './results.consumer';
import { ResultsWriter } from './results.writer';

/**
 * The agents' replies: {@link ResultsConsumer} (started by AppModule) reads them, {@link ReplyVerifier}
 * decides which to believe, {@link ResultsWriter} stores them; task audit records and the news after a
 * commit come from TasksModule.
 */
@Module({
  imports: [StoreModule, BrokerModule, HostsModule, TasksModule, TaskActivityModule, MetricsModule],
  providers: [ResultsConsumer, ReplyVerifier, ResultsWriter],
  exports: [ResultsConsumer, ReplyVerifier],
})
export class ResultsModule {}
