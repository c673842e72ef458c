import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Exposition } from '../prometheus-text';
import { until, Warren } from './harness';

/** Runs about 60 s unless the test ends first (teardown kills the agent). */
const LONG = 'for i in $(seq 1 600); do echo "tick $i"; sleep 0.1; done';

/** every stream a test opened, dropped after it (a failed test must not hold slots the next one needs) */
const opened: AbortController[] = [];

/** An open `GET /v1/tasks/:id/events`: its status, and `close()` to drop it as a client going away would. */
async function openEvents(w: Warren, id: string) {
  const ac = new AbortController();
  opened.push(ac);
  const res = await fetch(`${w.url}/v1/tasks/${id}/events`, {
    headers: { authorization: `Bearer ${w.token}` },
    signal: ac.signal,
  });
  const body = res.status === 200 ? null : await res.text();
  return {
    res,
    body,
    /** reads until the controller ends the response */
    async readToEnd(): Promise<string> {
      return res.text();
    },
    close: () => ac.abort(),
  };
}

async function gauges(w: Warren) {
  const res = await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${w.token}` } });
  const m = new Exposition(await res.text());
  return {
    open: m.value('warren_event_streams'),
    limit: m.value('warren_event_streams_limit'),
    refused: m.value('warren_event_streams_refused_total'),
  };
}

describe('event streams past --max-event-streams', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController({}, ['--auto-accept', '--max-event-streams', '2']);
    await w.startAgent('h1');
  });
  afterAll(() => w.teardown());
  afterEach(async () => {
    opened.splice(0).forEach((ac) => ac.abort());
    await until(async () => (await gauges(w)).open === 0);
  });

  it('answers 503 with Retry-After past the cap, serves again once a client leaves, and reads the stream on a connection of its own', async () => {
    const { body: task } = await w.api('POST', '/v1/tasks', { command: LONG, hosts: ['h1'] });
    const a = await openEvents(w, task.id);
    const b = await openEvents(w, task.id);
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    expect(await gauges(w)).toEqual({ open: 2, limit: 2, refused: 0 });

    const refused = await openEvents(w, task.id);
    expect(refused.res.status).toBe(503);
    expect(refused.res.headers.get('retry-after')).toBe('5');
    const answer = JSON.parse(refused.body!);
    expect(answer).toMatchObject({ statusCode: 503, error: 'TooManyEventStreamsError' });
    expect(answer.message).toMatch(/already serves 2 event streams \(--max-event-streams\)/);
    expect((await gauges(w)).refused).toBe(1);
    // One warning when the cap is met, not one per refusal.
    expect((await openEvents(w, task.id)).res.status).toBe(503);
    const warnings = w.controller!.output.split('\n').filter((l) => l.includes('event streams at --max-event-streams'));
    expect(warnings).toHaveLength(1);

    // A client that goes away gives its slot back.
    a.close();
    await until(async () => (await gauges(w)).open === 1);
    const c = await openEvents(w, task.id);
    expect(c.res.status).toBe(200);

    // The readers' channels are on their own connection, not on the one of the results consumer and publisher.
    const pid = w.controller!.pid;
    await w.controller!.waitFor(
      new RegExp(
        `"conn":"warren-controller ${pid} events".*"amqp connected"|"amqp connected".*"conn":"warren-controller ${pid} events"`,
      ),
    );
  });

  it('gives the slot back when the stream ends with the task', async () => {
    const { body: task } = await w.api('POST', '/v1/tasks', { command: 'echo hi', hosts: ['h1'] });
    const s = await openEvents(w, task.id);
    expect(s.res.status).toBe(200);
    expect(await s.readToEnd()).toMatch(/event: completed/);
    await until(async () => (await gauges(w)).open === 0);
    const t = await openEvents(w, task.id);
    const u = await openEvents(w, task.id);
    expect([t.res.status, u.res.status]).toEqual([200, 200]);
    await Promise.all([t.readToEnd(), u.readToEnd()]);
  });

  it('warren check --follow at a full controller waits as Retry-After says, then prints the task', async () => {
    const { body: long } = await w.api('POST', '/v1/tasks', { command: LONG, hosts: ['h1'] });
    const a = await openEvents(w, long.id);
    await openEvents(w, long.id);
    const task = await w.runAndWait({ command: 'echo followed', hosts: ['h1'] });
    const before = (await gauges(w)).refused!;
    const follow = w.cli(['check', task.id, '--follow']);
    await until(async () => (await gauges(w)).refused! > before);
    a.close();
    const r = await follow;
    expect(r.stderr).toMatch(/already serves 2 event streams.*waiting 5 s/);
    expect(r.stdout).toMatch(/h1 \| followed/);
    expect(r.code).toBe(0);
  });
});
