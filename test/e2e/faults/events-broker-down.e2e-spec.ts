import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../../apps/cli/src/http/sse.parser';
import { PrivateBroker } from '../../support/private-broker';
import { until, Warren } from '../harness';

interface Received {
  id: string;
  event: string;
  data: any;
}

/** Reads `GET /v1/tasks/:id/events` (after `lastEventId`) until the controller ends the response. */
async function readEvents(w: Warren, id: string, lastEventId?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${w.token}` };
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const res = await fetch(`${w.url}/v1/tasks/${id}/events`, { headers });
  const events: Received[] = [];
  const parser = new SseParser((e) => events.push({ id: e.id!, event: e.event, data: JSON.parse(e.data) }));
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return { status: res.status, events };
}

/**
 * The events of a done task while the broker is away: served from the store (the events stream is
 * unreachable) and ended, not heartbeats until the broker returns; a resume after them, once the
 * broker is back, starts from the beginning and ends with the same results.
 */
describe('faults: the events of a done task while the broker is down', () => {
  let broker: PrivateBroker;
  let w: Warren;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    await w.startAgent('h1');
    await w.startAgent('h2');
  }, 120_000);
  afterAll(async () => {
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  it('sends every result and completed from the store and ends; a resume after them, with the broker back, starts from the beginning', async () => {
    const task = await w.runAndWait({ command: 'echo "out of $(hostname)"; echo two', hosts: ['h1', 'h2'] });
    await broker.stop();
    const down = await readEvents(w, task.id);
    expect(down.status).toBe(200);
    expect(down.events.map((e) => [e.id, e.event, e.data.host])).toEqual([
      ['00000000.1', 'started', 'h1'],
      ['00000000.2', 'result', 'h1'],
      ['00000000.3', 'started', 'h2'],
      ['00000000.4', 'result', 'h2'],
      ['00000000.5', 'completed', undefined],
    ]);
    const stored = (await w.api('GET', `/v1/tasks/${task.id}`)).body;
    for (const host of ['h1', 'h2'])
      expect(down.events.find((e) => e.event === 'result' && e.data.host === host)!.data.stdout).toBe(
        stored.results.find((r: { host: string }) => r.host === host).stdout,
      );
    expect(down.events.at(-1)!.data).toMatchObject({ state: 'completed', summary: { total: 2 } });

    await broker.restart();
    await until(async () => (await w.api('GET', '/healthz')).status === 200, 60_000);
    // From the stream once the events connection is back too (it reconnects on its own, after the
    // one /healthz reports): until then a resume is served from the store again, honestly.
    const fromStream = (r: { events: Received[] }) =>
      r.events.length > 0 && r.events.every((e) => /^\d+-\d+$/.test(e.id));
    const again = await until(async () => {
      const r = await readEvents(w, task.id, down.events.at(-1)!.id);
      return fromStream(r) && r;
    }, 60_000);
    // Every result again (in the order the stream has them, not host order), each with the same output.
    const results = (r: { events: Received[] }) =>
      r.events
        .filter((e) => e.event === 'result')
        .map((e) => [e.data.host, e.data.stdout])
        .sort();
    expect(results(again)).toEqual(results(down));
    expect(again.events.at(-1)!.event).toBe('completed');
  });
});
