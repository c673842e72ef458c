import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { BrokerModule } from '../broker/broker.module';
import { ResultsModule } from '../results/results.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { EventStreamSlotsModule } from './event-stream-slots.module';
import { NotePublisher } from './note.publisher';
import { StreamChannels } from './stream-channels';
import { TaskActivityModule } from './task-activity.module';
import { TaskEvents } from './task-events.service';
import { TaskEventsController } from './task-events.controller';

/**
 * `GET /v1/tasks/:id/events`: a task's progress as Server-Sent Events, read from the events stream
 * ({@link TaskEvents}), and the notes this controller adds to that stream after its commits
 * ({@link NotePublisher}).
 */
@Module({
  imports: [
    StoreModule,
    BrokerModule,
    ResultsModule,
    TasksModule,
    TaskActivityModule,
    AuthModule,
    EventStreamSlotsModule,
  ],
  controllers: [TaskEventsController],
  providers: [TaskEvents, NotePublisher, StreamChannels],
  exports: [NotePublisher],
})
export class EventsModule {}
