import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { StoreModule } from '../store/store.module';
import { HostKeysStore } from './host-keys.store';
import { HostsController } from './hosts.controller';
import { HostsRegistry } from './hosts.registry';

/**
 * The fleet: agents' presence ({@link HostsRegistry}, a consumer started by AppModule), their
 * announced and accepted keys ({@link HostKeysStore}), and `GET /v1/hosts`, `POST /v1/hosts/:host/accept`.
 */
@Module({
  imports: [StoreModule, BrokerModule, AuditModule],
  controllers: [HostsController],
  providers: [HostKeysStore, HostsRegistry],
  exports: [HostKeysStore, HostsRegistry],
})
export class HostsModule {}
