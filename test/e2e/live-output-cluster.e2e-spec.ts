import * as amqplib from 'amqplib';
import { eventNotesExchange, eventsStream } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../apps/cli/src/http/sse.parser';
import { Controllers, type SharedDatabase, sharedDatabase } from './faults/controllers';
import { Warren } from './harness';

const HOSTS = ['h1', 'h2', 'h3', 'h4'];
/** `n` numbered lines, one every 100 ms. */
const chatty = (n: number) => `for i in $(seq 1 ${n}); do echo "line $i"; sleep 0.1; done`;
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join('');

interface Received {
  id: string;
  event: string;
  data: any;
  /** ms since epoch, when it arrived */
  at: number;
}

/**
 * Reads `GET /v1/tasks/:id/events` on `url` (after `lastEventId`) until the controller ends it,
 * the connection breaks (a SIGKILLed controller), or `onEvent` returns true (then we drop it).
 */
async function readEvents(
  url: string,
  token: string,
  id: string,
  opts: { lastEventId?: string; onEvent?: (seen: Received[]) => boolean | void } = {},
): Promise<{ status: number; events: Received[]; ended: boolean; body: string }> {
  const ac = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  const res = await fetch(`${url}/v1/tasks/${id}/events`, { headers, signal: ac.signal });
  const events: Received[] = [];
  if (res.status !== 200) return { status: res.status, events, ended: false, body: await res.text() };
  let stop = false;
  const parser = new SseParser((e) => {
    events.push({ id: e.id!, event: e.event, data: JSON.parse(e.data), at: Date.now() });
    if (opts.onEvent?.(events)) stop = true;
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: 200, events, ended: true, body: '' };
      parser.feed(value);
      if (stop) {
        ac.abort();
        return { status: 200, events, ended: false, body: '' };
      }
    }
  } catch {
    return { status: 200, events, ended: false, body: '' }; // cut: the controller died
  }
}

/** One host's stdout as its output events carry it, checking that the chunks are contiguous: none missing, none twice. */
function streamedText(events: Received[], host: string): string {
  let text = '';
  for (const e of events.filter((x) => x.event === 'output' && x.data.host === host && x.data.stream === 'stdout')) {
    expect(e.data.offset, `${host}: chunk at ${e.data.offset} after ${Buffer.byteLength(text)} bytes`).toBe(
      Buffer.byteLength(text),
    );
    text += e.data.data;
  }
  return text;
}

/** The hosts whose result the controller `name` stored for `taskId`, from its log. */
function storedBy(cs: Controllers, name: string, taskId: string): string[] {
  return cs
    .get(name)
    .proc.output.split('\n')
    .filter((l) => l.includes('"invocation finished"') && l.includes(taskId))
    .map((l) => JSON.parse(l).host as string);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Live output across controllers (docs/streaming.md): two controllers on one PostgreSQL database,
 * the shared broker (this run's own namespace) and real agents; the events stream kept small
 * (1 MiB) so that a task's messages can be made to fall out of it.
 */
describe('live output from whichever controller you reach', () => {
  const w = new Warren();
  let db: SharedDatabase;
  let cs: Controllers;
  const url = (name: string) => cs.get(name).url;
  const ARGS = ['--auto-accept', '--events-max-bytes', '1MiB'];

  beforeAll(async () => {
    db = await sharedDatabase('live_output', w);
    cs = new Controllers(w, db);
    await cs.start('a', ARGS);
    await Promise.all(HOSTS.map((h) => w.startAgent(h)));
    await cs.start('b', ARGS);
    await cs.waitHosts('b', HOSTS);
  }, 120_000);

  afterAll(async () => {
    for (const [name, text] of Object.entries(cs?.crashReports() ?? {}))
      console.error(`controller ${name} crashed:\n${text}`);
    await cs?.teardown();
    await w.teardown().catch(() => undefined);
    await db?.drop();
  });

  it('a client on B sees every line of a task whose results A consumes, while it runs, with the same ids as on A', async () => {
    // The results queue is shared: which controller stores a host's reply is the broker's pick. A
    // task whose results A took none of would prove nothing, so run again (rarely needed).
    for (let attempt = 1; ; attempt++) {
      const res = await cs.api('a', 'POST', '/v1/tasks', { command: chatty(30), hosts: HOSTS });
      expect(res.status).toBe(202);
      const id = res.body.id as string;
      const [onA, onB] = await Promise.all([readEvents(url('a'), w.token, id), readEvents(url('b'), w.token, id)]);
      const byA = storedBy(cs, 'a', id);
      if (byA.length === 0 && attempt < 5) continue;
      console.log(`results stored by A: ${byA.join(' ')}; by B: ${storedBy(cs, 'b', id).join(' ')}`);
      expect(byA.length).toBeGreaterThan(0);
      const task = (await cs.api('b', 'GET', `/v1/tasks/${id}`)).body;
      for (const r of [onA, onB]) {
        expect(r.ended).toBe(true);
        for (const h of HOSTS) expect(streamedText(r.events, h)).toBe(lines(30));
        expect(r.events.at(-1)).toMatchObject({ event: 'completed', data: { taskId: id, state: 'completed' } });
        expect(
          r.events
            .filter((e) => e.event === 'result')
            .map((e) => e.data.host)
            .sort(),
        ).toEqual(HOSTS);
      }
      // One stream, one set of ids: an id from A means the same on B.
      expect(onB.events.map((e) => `${e.id} ${e.event}`)).toEqual(onA.events.map((e) => `${e.id} ${e.event}`));
      // Live: lines reached B well before the task ended.
      const firstOnB = onB.events.find((e) => e.event === 'output')!;
      expect(Date.parse(task.finishedAt) - firstOnB.at).toBeGreaterThan(1_000);
      const aAt = new Map(onA.events.map((e) => [e.id, e.at]));
      const lag = onB.events.filter((e) => e.event === 'output').map((e) => e.at - aAt.get(e.id)!);
      console.log(
        `output on B vs A over ${lag.length} chunks: median ${median(lag)} ms, max ${Math.max(...lag)} ms (negative: B first)`,
      );
      return;
    }
  }, 90_000);

  it('a client watching through a controller that is SIGKILLed resumes on the other with Last-Event-ID: every host’s output contiguous, none missing or twice, equal to the stored output', async () => {
    const res = await cs.api('a', 'POST', '/v1/tasks', { command: chatty(40), hosts: HOSTS.slice(0, 3) });
    const id = res.body.id as string;
    let killing: Promise<void> | null = null;
    const first = await readEvents(url('a'), w.token, id, {
      onEvent: (seen) => {
        if (!killing && seen.filter((e) => e.event === 'output').length >= 15)
          killing = cs.get('a').proc.stop('SIGKILL');
      },
    });
    await killing;
    expect(first.ended).toBe(false);
    const last = first.events.at(-1)!.id;
    const second = await readEvents(url('b'), w.token, id, { lastEventId: last });
    expect(second.ended).toBe(true);
    const all = [...first.events, ...second.events];
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    const stored = (await cs.api('b', 'GET', `/v1/tasks/${id}`)).body;
    expect(stored.state).toBe('completed');
    for (const r of stored.results) {
      expect(r.state).toBe('succeeded');
      expect(streamedText(all, r.host)).toBe(r.stdout);
      expect(r.stdout).toBe(lines(40));
    }
    expect(
      all
        .filter((e) => e.event === 'result')
        .map((e) => e.data.host)
        .sort(),
    ).toEqual(HOSTS.slice(0, 3));
    expect(all.at(-1)!.event).toBe('completed');
    console.log(
      `SIGKILL: ${first.events.length} events from A (last ${last}), ${second.events.length} from B after resuming`,
    );
    await cs.start('a', ARGS);
    await cs.waitHosts('a', HOSTS);
  }, 90_000);

  it('a note that never reached the stream (its controller died after the commit) still ends every stream with each result and completed', async () => {
    // As if the committer died between its commit and its note: while the task ends, notes go nowhere.
    const conn = await amqplib.connect(w.brokerUrl);
    const ch = await conn.createChannel();
    let watching: ReturnType<typeof readEvents>;
    let id: string;
    await ch.unbindQueue(eventsStream(w.ns), eventNotesExchange(w.ns), '');
    try {
      const res = await cs.api('a', 'POST', '/v1/tasks', { command: 'sleep 1; echo done', hosts: ['h1', 'h2'] });
      id = res.body.id as string;
      watching = readEvents(url('b'), w.token, id); // a client already watching on B
      const done = await cs.api('a', 'GET', `/v1/tasks/${id}?waitMs=15000`);
      expect(done.body.state).toBe('completed');
    } finally {
      await ch.bindQueue(eventsStream(w.ns), eventNotesExchange(w.ns), '');
      await conn.close();
    }
    const late = readEvents(url('a'), w.token, id); // and one that comes after
    for (const r of await Promise.all([watching, late])) {
      expect(r.ended).toBe(true);
      expect(r.events.filter((e) => e.event === 'result').map((e) => [e.data.host, e.data.stdout])).toEqual(
        expect.arrayContaining([
          ['h1', 'done\n'],
          ['h2', 'done\n'],
        ]),
      );
      expect(r.events.at(-1)).toMatchObject({ event: 'completed', data: { taskId: id, state: 'completed' } });
    }
    expect(cs.logs()).toContain('announcing what the store holds and no events note said');
  }, 60_000);

  it('refuses a malformed Last-Event-ID (400) and takes an id of the old per-controller logs as "from the beginning"', async () => {
    const task = await cs.api('a', 'POST', '/v1/tasks', { command: 'echo hi', hosts: ['h1'], wait: true });
    const id = task.body.id as string;
    for (const bad of ['nonsense', '12', '1-2-3', 'abc-0']) {
      const r = await readEvents(url('b'), w.token, id, { lastEventId: bad });
      expect(r.status).toBe(400);
      expect(r.body).toContain('Last-Event-ID');
    }
    const legacy = await readEvents(url('b'), w.token, id, { lastEventId: '1a2b3c4d.17' });
    const fresh = await readEvents(url('b'), w.token, id);
    expect(legacy.events.map((e) => e.id)).toEqual(fresh.events.map((e) => e.id));
    expect(fresh.events.map((e) => e.event)).toEqual(['started', 'output', 'result', 'completed']);
  }, 30_000);

  it('a Last-Event-ID older than the stream retains: the rest from the store, every result with its whole output, then completed', async () => {
    const res = await cs.api('a', 'POST', '/v1/tasks', { command: chatty(5), hosts: ['h1', 'h2'], wait: true });
    const id = res.body.id as string;
    const before = await readEvents(url('a'), w.token, id);
    const early = before.events.find((e) => e.event === 'output')!.id;
    // ~3.6 MB through a stream kept at 1 MiB: 900 kB of output per host, streamed and then in each result.
    const flood = await cs.api('a', 'POST', '/v1/tasks', {
      command: "head -c 900000 /dev/zero | tr '\\0' x | fold -w 99",
      hosts: ['h3', 'h4'],
      wait: true,
    });
    expect(flood.body.results.map((r: { state: string }) => r.state)).toEqual(['succeeded', 'succeeded']);
    // The task's messages are gone from the stream: its first offset is now past the task's last event.
    const conn = await amqplib.connect(w.brokerUrl);
    let firstOffset = -1;
    try {
      const ch = await conn.createChannel();
      await ch.prefetch(1);
      await new Promise<void>((resolve) =>
        ch.consume(
          eventsStream(w.ns),
          (m) => {
            if (firstOffset < 0) firstOffset = Number(m!.properties.headers!['x-stream-offset']);
            resolve();
          },
          { arguments: { 'x-stream-offset': 'first' } },
        ),
      );
    } finally {
      await conn.close();
    }
    const lastOfTask = Number(before.events.at(-1)!.id.split('-')[0]);
    console.log(`retention: stream starts at offset ${firstOffset}; the task's last event was at ${lastOfTask}`);
    expect(firstOffset).toBeGreaterThan(lastOfTask);
    const resumed = await readEvents(url('b'), w.token, id, { lastEventId: early });
    expect(resumed.ended).toBe(true);
    const results = resumed.events.filter((e) => e.event === 'result');
    expect(results.map((e) => [e.data.host, e.data.stdout]).sort()).toEqual([
      ['h1', lines(5)],
      ['h2', lines(5)],
    ]);
    expect(resumed.events.at(-1)).toMatchObject({ event: 'completed', data: { taskId: id } });
  }, 90_000);

  it('a controller started with other retention than the stream has says so once, keeps the stream, and serves its events', async () => {
    const c = await cs.start('c', ['--auto-accept', '--events-max-bytes', '2MiB']);
    await c.proc.waitFor(/the events stream exists with other retention arguments/);
    const done = await cs.api('c', 'POST', '/v1/tasks', { command: 'echo via-c', hosts: ['h1'], wait: true });
    expect(done.body.state).toBe('completed');
    const r = await readEvents(url('c'), w.token, done.body.id);
    expect(r.ended).toBe(true);
    expect(r.events.map((e) => e.event)).toEqual(['started', 'output', 'result', 'completed']);
    await c.proc.stop('SIGTERM');
  }, 60_000);
});
