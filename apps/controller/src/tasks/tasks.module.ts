import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { HostsModule } from '../hosts/hosts.module';
import { KeysModule } from '../keys/keys.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { CancelService } from './cancel.service';
import { CompletionNotifier } from './completion.notifier';
import { DeadlineSweeper } from './deadline.sweeper';
import { DispatcherService } from './dispatcher.service';
import { RollingScheduler } from './rolling.scheduler';
import { TargetResolver } from './target.resolver';
import { TaskReader } from './task-reader.service';
import { TaskActionsController } from './task-actions.controller';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

/**
 * Tasks: creating and re-running (target resolution, rolling limits, scope checks), dispatching
 * signed commands, rolling runs, cancelling, reading and waiting ({@link TaskReader}), and the deadline
 * sweeper that ends what no reply will. `/v1/tasks` and its actions.
 */
@Module({
  imports: [StoreModule, BrokerModule, KeysModule, HostsModule, MetricsModule, AuditModule, TaskActivityModule],
  controllers: [TasksController, TaskActionsController],
  providers: [
    TasksService,
    TaskReader,
    DispatcherService,
    RollingScheduler,
    TargetResolver,
    CancelService,
    DeadlineSweeper,
    CompletionNotifier,
  ],
  exports: [TaskReader, CompletionNotifier, DeadlineSweeper],
})
export class TasksModule {}
