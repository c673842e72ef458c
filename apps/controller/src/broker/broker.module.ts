import { Module } from '@nestjs/common';
import { BrokerService } from './broker.service';
import { ResultsBacklog } from './results-backlog';

/** The one broker connection and its confirming publisher ({@link BrokerService}). */
@Module({ providers: [BrokerService, ResultsBacklog], exports: [BrokerService, ResultsBacklog] })
export class BrokerModule {}
