import type { TaskView } from '@warren/api';
import type { ControllerClient } from '../http/controller.client';
import { ControllerUnreachableError } from '../http/http.errors';

/** How `--wait` long-polls the controller. */
export interface PollTuning {
  /** ms the controller may hold each `GET /v1/tasks/:id?waitMs=` */
  waitMs: number;
  /** ms; least time between two polls, should a controller answer "running" at once */
  minIntervalMs: number;
  /** ms to wait before retrying after a poll found no controller */
  retryDelayMs: number;
  /** consecutive unreachable polls tolerated before giving up */
  maxFailures: number;
}

/** Many short long-polls rather than one long request, so one cut connection costs one retry, not the wait. */
export const DEFAULT_POLL: PollTuning = { waitMs: 30_000, minIntervalMs: 1000, retryDelayMs: 1000, maxFailures: 5 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `GET /v1/tasks/:id?waitMs=…` until the task is no longer `running`, and returns it.
 * A poll that finds no controller (a restart, a cut connection) is retried up to
 * `maxFailures` times in a row; API errors (404, 5xx) end the wait at once.
 */
export async function waitForTask(client: ControllerClient, id: string, tuning: PollTuning): Promise<TaskView> {
  let failures = 0;
  for (;;) {
    const started = Date.now();
    try {
      const task = await client.getTask(id, tuning.waitMs);
      failures = 0;
      if (task.state !== 'running') return task;
      const elapsed = Date.now() - started;
      if (elapsed < tuning.minIntervalMs) await sleep(tuning.minIntervalMs - elapsed);
    } catch (err) {
      if (!(err instanceof ControllerUnreachableError) || ++failures >= tuning.maxFailures) throw err;
      await sleep(tuning.retryDelayMs);
    }
  }
}
