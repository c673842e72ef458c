import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { StoreModule } from '../store/store.module';
import { TasksModule } from '../tasks/tasks.module';
import { TaskActivityModule } from './task-activity.module';
import { TaskEventLog } from './task-event.log';
import { TaskEventsController } from './task-events.controller';

/** `GET /v1/tasks/:id/events`: a task's progress as Server-Sent Events, from the per-task {@link TaskEventLog}. */
@Module({
  imports: [StoreModule, TasksModule, TaskActivityModule, AuthModule],
  controllers: [TaskEventsController],
  providers: [TaskEventLog],
})
export class EventsModule {}
