import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { FilesModule } from '../files/files.module';
import { HostsModule } from '../hosts/hosts.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { FetchedConsumer } from './fetched.consumer';
import { ReplyVerifier } from './reply.verifier';
import { ResultsConsumer } from './results.consumer';
import { ResultsWriter } from './results.writer';

/**
 * The agents' replies: {@link ResultsConsumer} (started by AppModule) reads them, {@link ReplyVerifier}
 * decides which to believe, {@link ResultsWriter} stores them; task audit records and the news after a
 * commit come from TasksModule. {@link FetchedConsumer} (started by AppModule) stores the chunks of
 * fetched files, verified as replies are.
 */
@Module({
  imports: [StoreModule, BrokerModule, HostsModule, TasksModule, TaskActivityModule, MetricsModule, FilesModule],
  providers: [ResultsConsumer, ReplyVerifier, ResultsWriter, FetchedConsumer],
  exports: [ResultsConsumer, ReplyVerifier, FetchedConsumer],
})
export class ResultsModule {}
