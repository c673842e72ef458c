import { Module } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { DATABASE, type Db } from '../store/database';
import { StoreModule } from '../store/store.module';
import { AggregatingAuditLog } from './aggregating-audit.log';
import { AuditController } from './audit.controller';
import { AUDIT_LOG } from './audit.port';
import { SqliteAuditLog } from './sqlite-audit.log';

/**
 * The audit log (`AUDIT_LOG`, in the shared SQLite file, repeated refusals folded by the
 * {@link AggregatingAuditLog}, which AppModule flushes at shutdown) and its read-only `GET /v1/audit`.
 */
@Module({
  imports: [StoreModule],
  controllers: [AuditController],
  providers: [
    {
      provide: AggregatingAuditLog,
      useFactory: (db: Db, clock: Clock, root: Logger) => {
        const log = new AggregatingAuditLog(new SqliteAuditLog(db, clock, root.child({ component: 'audit' })), clock);
        log.start();
        return log;
      },
      inject: [DATABASE, Clock, ROOT_LOGGER],
    },
    { provide: AUDIT_LOG, useExisting: AggregatingAuditLog },
  ],
  exports: [AUDIT_LOG, AggregatingAuditLog],
})
export class AuditModule {}
