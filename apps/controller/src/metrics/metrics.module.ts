import { type DynamicModule, Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import type { ControllerConfig } from '../config/controller.config';
import { EventStreamSlotsModule } from '../events/event-stream-slots.module';
import { TaskActivityModule } from '../events/task-activity.module';
import { HostsModule } from '../hosts/hosts.module';
import { StoreModule } from '../store/store.module';
import { metricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { MetricsSources } from './metrics.sources';

/**
 * The Prometheus metrics ({@link MetricsService}, which the dispatcher and the results consumer
 * count into) and what they read or hear ({@link MetricsSources}: the store, the fleet, the
 * broker connection, the store's commits).
 */
@Module({
  imports: [StoreModule, BrokerModule, HostsModule, TaskActivityModule, EventStreamSlotsModule],
  providers: [MetricsService, MetricsSources],
  exports: [MetricsService],
})
export class MetricsModule {}

/**
 * `GET /metrics`, behind a `viewer` token or public (`--metrics-public`) as configured: a module
 * of its own because the controller class depends on the configuration, and every importer of
 * {@link MetricsModule} must share one instance of it.
 */
@Module({})
export class MetricsEndpointModule {
  static register(config: Pick<ControllerConfig, 'metricsPublic'>): DynamicModule {
    return { module: MetricsEndpointModule, imports: [MetricsModule], controllers: [metricsController(config)] };
  }
}
