import { Module } from '@nestjs/common';
import { EventStreamSlots } from './event-stream.slots';

/**
 * The {@link EventStreamSlots}, on their own: the events controller takes them and `/metrics`
 * reads them, and the metrics module cannot import the events module (which needs the metrics).
 */
@Module({ providers: [EventStreamSlots], exports: [EventStreamSlots] })
export class EventStreamSlotsModule {}
