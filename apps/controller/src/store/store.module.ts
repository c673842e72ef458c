import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityModule } from '../events/task-activity.module';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { DATABASE, type Db, openDatabase } from './database';
import { SqliteTaskStore } from './sqlite-task.store';
import { TASK_STORE, type TaskStore } from './task-store.port';

/**
 * Closes the task store (and with it the SQLite file) at application shutdown: after every
 * consumer has flushed into it (AppModule stops them before), after the HTTP server has closed,
 * and after the broker connection (see {@link StoreModule} for why last).
 */
class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(TASK_STORE) private readonly store: TaskStore) {}
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}

/**
 * The one SQLite connection (`DATABASE`, shared by the task store, the audit log, API tokens and
 * host keys) and the task store (`TASK_STORE`), which reports every change it commits to the
 * {@link TaskActivityNotifier}: invocation metrics and live task events then need nothing from
 * whoever applied it.
 *
 * Global only for its place in the shutdown order: Nest shuts global modules down after all
 * others, whatever the import graph, so the store closes last. Every module that uses it still
 * imports it, to say so.
 */
@Global()
@Module({
  imports: [TaskActivityModule],
  providers: [
    {
      provide: DATABASE,
      useFactory: (config: ControllerConfig) => openDatabase(config.dbPath),
      inject: [ControllerConfig],
    },
    {
      provide: TASK_STORE,
      useFactory: (db: Db, activity: TaskActivityNotifier) => new SqliteTaskStore(db, (c) => activity.applied(c)),
      inject: [DATABASE, TaskActivityNotifier],
    },
    StoreCloser,
  ],
  exports: [DATABASE, TASK_STORE],
})
export class StoreModule {}
