import { Module } from '@nestjs/common';
import { BrokerService } from './broker.service';

/** The one broker connection and its confirming publisher ({@link BrokerService}). */
@Module({ providers: [BrokerService], exports: [BrokerService] })
export class BrokerModule {}
