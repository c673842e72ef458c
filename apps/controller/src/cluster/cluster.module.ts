import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { HostsModule } from '../hosts/hosts.module';
import { TasksModule } from '../tasks/tasks.module';
import { ClusterChanges } from './cluster-changes.service';

/** Several controllers on one database: the wake-ups between them ({@link ClusterChanges}), started by AppModule. */
@Module({
  imports: [BrokerModule, TaskActivityModule, HostsModule, TasksModule],
  providers: [ClusterChanges],
  exports: [ClusterChanges],
})
export class ClusterModule {}
