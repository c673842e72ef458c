import { Module } from '@nestjs/common';
import { Clock } from '@warren/runtime';
import { STORED_AUDIT_LOG, StoreModule } from '../store/store.module';
import { AggregatingAuditLog } from './aggregating-audit.log';
import { AuditController } from './audit.controller';
import { AUDIT_LOG, type AuditLog } from './audit.port';

/**
 * The audit log (`AUDIT_LOG`, stored by the StoreModule's adapter, repeated refusals folded by the
 * {@link AggregatingAuditLog}, which AppModule flushes at shutdown) and its read-only `GET /v1/audit`.
 */
@Module({
  imports: [StoreModule],
  controllers: [AuditController],
  providers: [
    {
      provide: AggregatingAuditLog,
      useFactory: (stored: AuditLog, clock: Clock) => {
        const log = new AggregatingAuditLog(stored, clock);
        log.start();
        return log;
      },
      inject: [STORED_AUDIT_LOG, Clock],
    },
    { provide: AUDIT_LOG, useExisting: AggregatingAuditLog },
  ],
  exports: [AUDIT_LOG, AggregatingAuditLog],
})
export class AuditModule {}
