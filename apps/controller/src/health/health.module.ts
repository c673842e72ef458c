import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { StoreModule } from '../store/store.module';
import { HealthController } from './health.controller';

/** `GET /healthz`, public: 200 while the broker connection is up and the database answers, 503 otherwise. */
@Module({ imports: [BrokerModule, StoreModule], controllers: [HealthController] })
export class HealthModule {}
