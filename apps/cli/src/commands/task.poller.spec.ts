import type { TaskView } from '@warren/api';
import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../http/controller.client';
import { ControllerUnreachableError } from '../http/http.errors';
import { outageTooLong, type PollTuning, waitForTask } from './task.poller';

const tuning = (over: Partial<PollTuning> = {}): PollTuning => ({
  waitMs: 1,
  minIntervalMs: 0,
  retryDelayMs: 5,
  maxFailures: 3,
  outageMs: 0,
  ...over,
});

/** A client whose controller is away until `downMs` have passed since the first poll, then answers `completed`. */
function restartingController(downMs: number): { client: ControllerClient; polls: () => number } {
  let first: number | null = null;
  let polls = 0;
  const getTask = (): Promise<TaskView> => {
    polls++;
    first ??= Date.now();
    if (Date.now() - first < downMs)
      return Promise.reject(new ControllerUnreachableError('http://127.0.0.1:7070', 'connect ECONNREFUSED'));
    return Promise.resolve({ id: 't_1', state: 'completed' } as TaskView);
  };
  return { client: { getTask } as unknown as ControllerClient, polls: () => polls };
}

describe('waiting through a controller restart', () => {
  it('gives up only after maxFailures failures in a row that took at least outageMs', () => {
    const t = tuning({ maxFailures: 3, outageMs: 30_000 });
    expect(outageTooLong(2, 0, t, 60_000)).toBe(false); // long, but not enough tries
    expect(outageTooLong(50, 0, t, 29_999)).toBe(false); // many tries, but a restart may still be under way
    expect(outageTooLong(3, 0, t, 30_000)).toBe(true);
  });

  it('sees a task through a controller away for longer than maxFailures retries take', async () => {
    // 3 failures at 5 ms apart would give up after ~10 ms; the outage window keeps it waiting.
    const { client, polls } = restartingController(300);
    const task = await waitForTask(client, 't_1', tuning({ outageMs: 2_000 }));
    expect(task.state).toBe('completed');
    expect(polls()).toBeGreaterThan(3);
  });

  it('still gives up, with the unreachable error, once the outage outlasts outageMs', async () => {
    const { client } = restartingController(60_000);
    await expect(waitForTask(client, 't_1', tuning({ outageMs: 100 }))).rejects.toBeInstanceOf(
      ControllerUnreachableError,
    );
  });
});
