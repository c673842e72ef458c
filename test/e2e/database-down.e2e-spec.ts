import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockStore } from './faults/results-queue';
import { sleep, Warren } from './harness';

describe('the database away', () => {
  const w = new Warren();
  const marker = join(w.dir, 'ran');

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('web1');
  }, 60_000);
  afterAll(() => w.teardown());

  it('answers POST /v1/tasks 503 with a clear body and publishes nothing; works again once it is back', async () => {
    const lock = lockStore(w.db); // every write of the controller now fails (SQLITE_BUSY after its busy timeout)
    let res;
    try {
      res = await w.api('POST', '/v1/tasks', { command: `touch ${marker}`, hosts: ['web1'] });
    } finally {
      lock.release();
    }
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'DatabaseUnavailableError',
      message: 'the controller cannot reach its database now; nothing was changed, try again shortly',
    });
    await sleep(2_000); // had a command gone out, web1 would have run it by now
    expect(existsSync(marker)).toBe(false);
    expect((await w.api('GET', '/v1/tasks')).body.tasks).toEqual([]);
    const again = await w.runAndWait({ command: `touch ${marker}`, hosts: ['web1'] });
    expect(again.results[0].state).toBe('succeeded');
    expect(existsSync(marker)).toBe(true);
  }, 60_000);
});
