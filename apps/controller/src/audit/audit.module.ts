import { Module } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { DATABASE, type Db } from '../store/database';
import { StoreModule } from '../store/store.module';
import { AuditController } from './audit.controller';
import { AUDIT_LOG } from './audit.port';
import { SqliteAuditLog } from './sqlite-audit.log';

/** The audit log (`AUDIT_LOG`, in the shared SQLite file) and its read-only `GET /v1/audit`. */
@Module({
  imports: [StoreModule],
  controllers: [AuditController],
  providers: [
    {
      provide: AUDIT_LOG,
      useFactory: (db: Db, clock: Clock, root: Logger) =>
        new SqliteAuditLog(db, clock, root.child({ component: 'audit' })),
      inject: [DATABASE, Clock, ROOT_LOGGER],
    },
  ],
  exports: [AUDIT_LOG],
})
export class AuditModule {}
