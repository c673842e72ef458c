import { Inject, Injectable } from '@nestjs/common';
import type { OutputStream } from '@warren/api';
import type { Caller } from '../auth/principal';
import { HostNotInTaskError, TaskNotFoundError } from '../errors/errors';
import { type StoredOutput, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { TaskReader } from './task-reader.service';

/**
 * Reads one host's output stream of a task, exactly as the agent captured it, for a caller who may
 * read the task: the same checks as `GET /v1/tasks/:id` (404 unknown task, 403 a host outside the
 * token's patterns, audited), then 404 for a host the task does not have.
 */
@Injectable()
export class TaskOutputReader {
  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly reader: TaskReader,
  ) {}

  /** The stored bytes of `stream` of the task's invocation on `host`; throws {@link TaskNotFoundError}, `ForbiddenError`, {@link HostNotInTaskError}. */
  async read(taskId: string, host: string, stream: OutputStream, caller: Caller): Promise<StoredOutput> {
    if (!(await this.store.getTask(taskId))) throw new TaskNotFoundError(taskId);
    await this.reader.checkReadable(taskId, caller);
    const output = await this.store.getOutput(taskId, host, stream);
    if (!output) throw new HostNotInTaskError(taskId, host);
    return output;
  }
}
