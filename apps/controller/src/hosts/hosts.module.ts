import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { BrokerModule } from '../broker/broker.module';
import { StoreModule } from '../store/store.module';
import { HOST_KEY_BOUNDS, type HostKeyBounds, DEFAULT_HOST_KEY_BOUNDS, HostKeysStore } from './host-keys.store';
import { ControllerConfig } from '../config/controller.config';
import { HostsController } from './hosts.controller';
import { HostsRegistry } from './hosts.registry';

/**
 * The fleet: agents' presence ({@link HostsRegistry}, a consumer started by AppModule), their
 * announced and accepted keys ({@link HostKeysStore}, over the StoreModule's `HOST_KEY_REPOSITORY`, bounded by
 * `--pending-key-ttl`), and `GET /v1/hosts`, `GET /v1/hosts/keys`, `POST /v1/hosts/:host/accept|reject`.
 */
@Module({
  imports: [StoreModule, BrokerModule, AuditModule],
  controllers: [HostsController],
  providers: [
    {
      provide: HOST_KEY_BOUNDS,
      useFactory: (c: ControllerConfig): HostKeyBounds => ({
        ...DEFAULT_HOST_KEY_BOUNDS,
        pendingKeyTtlMs: c.pendingKeyTtlMs,
      }),
      inject: [ControllerConfig],
    },
    HostKeysStore,
    HostsRegistry,
  ],
  exports: [HostKeysStore, HostsRegistry],
})
export class HostsModule {}
