import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { TOKEN_STORE } from '../auth/token-store.port';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityModule } from '../events/task-activity.module';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HOST_KEY_REPOSITORY } from '../hosts/host-keys.port';
import { PRESENCE_STORE } from '../hosts/presence-store.port';
import { FILE_STORE } from './file-store.port';
import { openStores, type Stores } from './stores';
import { TASK_STORE } from './task-store.port';

/** Injection token of every store together ({@link Stores}), built once for the database of `--db`. */
export const STORES = Symbol('STORES');

/** Injection token of the audit log as stored; AuditModule folds repeated refusals in front of it. */
export const STORED_AUDIT_LOG = Symbol('STORED_AUDIT_LOG');

/**
 * Closes the stores (the SQLite file or the PostgreSQL pool) at application shutdown: after every
 * consumer has flushed into them (AppModule stops them before), after the HTTP server has closed,
 * and after the broker connection (see {@link StoreModule} for why last).
 */
class StoreCloser implements OnApplicationShutdown {
  constructor(@Inject(STORES) private readonly stores: Stores) {}
  async onApplicationShutdown(): Promise<void> {
    await this.stores.close();
  }
}

/**
 * Every store of the controller, over the one database `--db` names (a SQLite file, or PostgreSQL
 * for `postgres://…`; see {@link openStores}): tasks (`TASK_STORE`), tokens (`TOKEN_STORE`), the
 * stored audit log, host keys (`HOST_KEY_REPOSITORY`) and presence (`PRESENCE_STORE`). The task
 * store reports every change it commits to the {@link TaskActivityNotifier}: invocation metrics
 * and live task events then need nothing from whoever applied it.
 *
 * Global only for its place in the shutdown order: Nest shuts global modules down after all
 * others, whatever the import graph, so the stores close last. Every module that uses it still
 * imports it, to say so.
 */
@Global()
@Module({
  imports: [TaskActivityModule],
  providers: [
    {
      provide: STORES,
      useFactory: (config: ControllerConfig, clock: Clock, root: Logger, activity: TaskActivityNotifier) =>
        openStores(config.dbPath, {
          clock,
          logger: root,
          onApplied: (c) => activity.applied(c),
        }),
      inject: [ControllerConfig, Clock, ROOT_LOGGER, TaskActivityNotifier],
    },
    { provide: TASK_STORE, useFactory: (s: Stores) => s.tasks, inject: [STORES] },
    { provide: TOKEN_STORE, useFactory: (s: Stores) => s.tokens, inject: [STORES] },
    { provide: STORED_AUDIT_LOG, useFactory: (s: Stores) => s.audit, inject: [STORES] },
    { provide: HOST_KEY_REPOSITORY, useFactory: (s: Stores) => s.hostKeys, inject: [STORES] },
    { provide: PRESENCE_STORE, useFactory: (s: Stores) => s.presence, inject: [STORES] },
    { provide: FILE_STORE, useFactory: (s: Stores) => s.files, inject: [STORES] },
    StoreCloser,
  ],
  exports: [STORES, TASK_STORE, TOKEN_STORE, STORED_AUDIT_LOG, HOST_KEY_REPOSITORY, PRESENCE_STORE, FILE_STORE],
})
export class StoreModule {}
