import { Module } from '@nestjs/common';
import { TaskActivityNotifier } from './task-activity.notifier';

/**
 * The {@link TaskActivityNotifier}, on its own: the store reports its commits to it and the
 * consumers what agents say, so it depends on nothing and everything may import it.
 */
@Module({ providers: [TaskActivityNotifier], exports: [TaskActivityNotifier] })
export class TaskActivityModule {}
