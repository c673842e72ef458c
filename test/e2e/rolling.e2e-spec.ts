import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];

/** Most hosts whose command ran at the same time, from the start/end lines the commands wrote. */
function maxOverlap(log: string): { max: number; started: string[] } {
  const events = log
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([ns, kind, host]) => ({ at: BigInt(ns), kind, host }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.kind === 'end' ? -1 : 1));
  let now = 0;
  let max = 0;
  for (const e of events) {
    now += e.kind === 'start' ? 1 : -1;
    max = Math.max(max, now);
  }
  return {
    max,
    started: events
      .filter((e) => e.kind === 'start')
      .map((e) => e.host)
      .sort(),
  };
}

describe('rolling runs with an error budget, and re-runs', () => {
  const w = new Warren();
  const log = (name: string) => join(w.dir, `${name}.log`);
  /** Each host writes when its command starts and ends, by its own clock (one machine here). */
  const timed = (file: string, body: string) =>
    `echo "$(date +%s%N) start $ROLE" >> ${file}; ${body}; rc=$?; echo "$(date +%s%N) end $ROLE" >> ${file}; exit $rc`;

  beforeAll(async () => {
    await w.startController();
    await Promise.all(HOSTS.map((h) => w.startAgent(h, { ROLE: h })));
  }, 60_000);
  afterAll(() => w.teardown());

  it('never runs more than --concurrency hosts at once, as the agents saw it, and runs them all', async () => {
    const r = await w.cli(['run', timed(log('c2'), 'sleep 0.4'), '--all', '--concurrency', '2', '--wait', '--json']);
    expect(r.code).toBe(0);
    const task = JSON.parse(r.stdout);
    expect(task).toMatchObject({ concurrency: 2, maxErrors: null, summary: { total: 6, byState: { succeeded: 6 } } });
    const { max, started } = maxOverlap(readFileSync(log('c2'), 'utf8'));
    expect(started).toEqual(HOSTS);
    expect(max).toBe(2);
  });

  it('takes --concurrency as a share of the hosts', async () => {
    const task = await w.runAndWait({ command: timed(log('pct'), 'sleep 0.3'), hosts: ['h[1-6]'], concurrency: '50%' });
    expect(task.concurrency).toBe(3);
    expect(maxOverlap(readFileSync(log('pct'), 'utf8')).max).toBe(3);
  });

  let budgetTask = '';

  it('with --max-errors 1, starts no host once two failed and leaves the rest skipped', async () => {
    // One at a time, so the order is fixed: h1 fails (within the budget), h2 fails (one too many).
    const fail = 'case "$ROLE" in h1|h2) exit 3;; esac';
    const r = await w.cli([
      'run',
      timed(log('budget'), fail),
      '--hosts',
      'h[1-6]',
      '--concurrency',
      '1',
      '--max-errors',
      '1',
      '--wait',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/6 hosts: 2 failed, 4 skipped/);
    const task = (await w.api('GET', '/v1/tasks?limit=1')).body.tasks[0];
    budgetTask = task.id;
    const full = (await w.api('GET', `/v1/tasks/${budgetTask}`)).body;
    const states = Object.fromEntries(full.results.map((x: any) => [x.host, x.state]));
    expect(states).toEqual({ h1: 'failed', h2: 'failed', h3: 'skipped', h4: 'skipped', h5: 'skipped', h6: 'skipped' });
    expect(full.results.find((x: any) => x.host === 'h3').reason).toBe(
      'error budget exhausted: 2 of 2 sent did not succeed (at most 1 allowed); never sent',
    );
    expect(maxOverlap(readFileSync(log('budget'), 'utf8')).started).toEqual(['h1', 'h2']);
  });

  it('re-runs only the failed hosts, or only the skipped ones, as new tasks that record where they came from', async () => {
    const failed = await w.cli(['rerun', budgetTask, '--only', 'failed', '--json']);
    expect(failed.code).toBe(0);
    const again = JSON.parse(failed.stdout);
    expect(again).toMatchObject({ hosts: ['h1', 'h2'], rerunOf: budgetTask, concurrency: 1, maxErrors: 1 });
    const done = (await w.api('GET', `/v1/tasks/${again.id}?waitMs=20000`)).body;
    expect(done).toMatchObject({
      rerunOf: budgetTask,
      state: 'completed',
      summary: { total: 2, byState: { failed: 2 } },
    });

    const skipped = await w.cli(['rerun', budgetTask, '--only', 'skipped', '--max-errors', '0', '--wait']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/4 hosts: 4 succeeded/);
    expect(skipped.stderr).toMatch(/re-runs t_\w+ on 4 hosts: h\[3-6\]/);
  });

  it('re-runs with --stream: the lines of the subset live, then the summary and exit status', async () => {
    const first = await w.runAndWait({ command: 'echo "hello $ROLE"; [ "$ROLE" != h2 ]', hosts: ['h1', 'h2'] });
    expect(first.results.map((r: any) => r.state)).toEqual(['succeeded', 'failed']);
    const r = await w.cli(['rerun', first.id, '--stream']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^h2 \| hello h2$/m);
    expect(r.stdout).not.toMatch(/h1 \|/);
    expect(r.stdout).toMatch(/1 host: 1 failed/);
    expect(r.stderr).toMatch(new RegExp(`re-runs ${first.id} on 1 host: h2`));
    expect((await w.cli(['rerun', first.id, '--stream', '--json'])).code).toBe(2);
  });

  it('refuses a re-run with no host in the states asked for (422, exit 2)', async () => {
    const none = await w.api('POST', `/v1/tasks/${budgetTask}/rerun`, { only: ['timed_out'] });
    expect(none.status).toBe(422);
    expect(none.body.message).toMatch(/no host of task t_\w+ is in timed_out \(its hosts now: 2 failed, 4 skipped\)/);
    const cli = await w.cli(['rerun', budgetTask, '--only', 'lost']);
    expect(cli.code).toBe(2);
    const bad = await w.cli(['rerun', budgetTask, '--only', 'running']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected finished states/);
    expect((await w.api('POST', '/v1/tasks/t_nope/rerun', {})).status).toBe(404);
  });

  it('cancels the hosts of a rolling run not yet started, and they never run', async () => {
    const created = await w.api('POST', '/v1/tasks', {
      command: timed(log('cancel'), 'sleep 1'),
      hosts: ['h[1-6]'],
      concurrency: 1,
    });
    expect(created.status).toBe(202);
    const cancel = await w.cli(['cancel', created.body.id, '--json']);
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.stdout).cancelled.sort()).toEqual(['h2', 'h3', 'h4', 'h5', 'h6']);
    const task = (await w.api('GET', `/v1/tasks/${created.body.id}?waitMs=20000`)).body;
    expect(task.state).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 500)); // a wrongly sent host would have started by now
    // h1 was sent first; the cancel may reach its agent before its shell wrote a line, so h1 may be absent.
    const lines = existsSync(log('cancel')) ? readFileSync(log('cancel'), 'utf8').trim() : '';
    const started = lines === '' ? [] : maxOverlap(lines).started;
    expect(started.filter((h) => h !== 'h1')).toEqual([]);
  });
});
