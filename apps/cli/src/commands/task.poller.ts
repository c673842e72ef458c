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
  /** consecutive unreachable polls tolerated before giving up (and see `outageMs`) */
  maxFailures: number;
  /**
   * ms without a controller, from the first failure in a row, waited out before giving up, however
   * many failures that takes: a controller restart (a deploy, a crash and its supervisor) takes
   * seconds, and a waiting or following CLI should see the task through it
   */
  outageMs: number;
}

/** Whether to give up after `failures` unreachable tries in a row, the first at `since` (ms). */
export function outageTooLong(failures: number, since: number, tuning: PollTuning, now = Date.now()): boolean {
  return failures >= tuning.maxFailures && now - since >= tuning.outageMs;
}

/** Many short long-polls rather than one long request, so one cut connection costs one retry, not the wait. */
export const DEFAULT_POLL: PollTuning = {
  waitMs: 30_000,
  minIntervalMs: 1000,
  retryDelayMs: 1000,
  maxFailures: 5,
  outageMs: 30_000,
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `GET /v1/tasks/:id?waitMs=…` until the task is no longer `running`, and returns it.
 * A poll that finds no controller (a restart, a cut connection) is retried until `maxFailures`
 * tries in a row have failed over at least `outageMs`; API errors (404, 5xx) end the wait at once.
 */
export async function waitForTask(client: ControllerClient, id: string, tuning: PollTuning): Promise<TaskView> {
  let failures = 0;
  let since = 0;
  for (;;) {
    const started = Date.now();
    try {
      const task = await client.getTask(id, tuning.waitMs);
      failures = 0;
      if (task.state !== 'running') return task;
      const elapsed = Date.now() - started;
      if (elapsed < tuning.minIntervalMs) await sleep(tuning.minIntervalMs - elapsed);
    } catch (err) {
      if (!(err instanceof ControllerUnreachableError)) throw err;
      if (failures++ === 0) since = started;
      if (outageTooLong(failures, since, tuning)) throw err;
      await sleep(tuning.retryDelayMs);
    }
  }
}
