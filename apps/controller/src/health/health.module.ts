import { Module } from '@nestjs/common';
import { BrokerModule } from '../broker/broker.module';
import { HealthController } from './health.controller';

/** `GET /healthz`, public: 200 while the broker connection is up, 503 otherwise. */
@Module({ imports: [BrokerModule], controllers: [HealthController] })
export class HealthModule {}
