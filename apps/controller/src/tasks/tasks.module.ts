import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { FilesModule } from '../files/files.module';
import { HostsModule } from '../hosts/hosts.module';
import { KeysModule } from '../keys/keys.module';
import { MetricsModule } from '../metrics/metrics.module';
import { StoreModule } from '../store/store.module';
import { CancelService } from './cancel.service';
import { CommandPublisher } from './command.publisher';
import { CompletionNotifier } from './completion.notifier';
import { DeadlineSweeper } from './deadline.sweeper';
import { DispatcherService } from './dispatcher.service';
import { CommandTrust } from './command-trust';
import { RollingScheduler } from './rolling.scheduler';
import { TargetResolver } from './target.resolver';
import { TaskAudit } from './task-audit.service';
import { TaskChanges } from './task-changes';
import { TaskLauncher } from './task.launcher';
import { TaskReader } from './task-reader.service';
import { TaskActionsController } from './task-actions.controller';
import { FetchedFileReader } from './fetched-file.reader';
import { TaskOutputReader } from './task-output.reader';
import { TaskResultsController } from './task-results.controller';
import { TasksController } from './tasks.controller';
import { TasksService } from './tasks.service';

/**
 * Tasks: deciding on new tasks and re-runs (target resolution, rolling limits, scope checks) and
 * launching them ({@link TaskLauncher}), dispatching signed commands ({@link CommandPublisher}) to
 * trusted hosts ({@link CommandTrust}), rolling runs, cancelling, reading and waiting ({@link TaskReader}),
 * the deadline sweeper that ends what no reply will, the audit records of all of it ({@link TaskAudit}),
 * and the news after each commit ({@link TaskChanges}). `/v1/tasks` and its actions. Exports what the
 * results consumer and the event stream use.
 */
@Module({
  imports: [
    StoreModule,
    BrokerModule,
    KeysModule,
    HostsModule,
    MetricsModule,
    AuditModule,
    TaskActivityModule,
    FilesModule,
  ],
  controllers: [TasksController, TaskActionsController, TaskResultsController],
  providers: [
    TasksService,
    TaskLauncher,
    TaskReader,
    TaskOutputReader,
    FetchedFileReader,
    TaskAudit,
    TaskChanges,
    DispatcherService,
    CommandPublisher,
    CommandTrust,
    RollingScheduler,
    TargetResolver,
    CancelService,
    DeadlineSweeper,
    CompletionNotifier,
  ],
  exports: [TaskReader, CompletionNotifier, DeadlineSweeper, TaskAudit, TaskChanges],
})
export class TasksModule {}
