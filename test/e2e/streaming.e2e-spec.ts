import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../apps/cli/src/http/sse.parser';
import { sleep, until, Warren } from './harness';

const ROOT = join(__dirname, '../..');

/** One line every 100 ms, 20 in all (about 2 s); h2 also fails, so exit statuses can be told apart. */
const TICKER =
  'for i in $(seq 1 20); do echo "line $i"; sleep 0.1; done; echo "done on $ROLE" >&2; [ "$ROLE" != h2 ] || exit 3';
const LINES = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);

interface Received {
  id: string;
  event: string;
  data: any;
  /** ms since epoch, when it arrived */
  at: number;
}

/**
 * Reads `GET /v1/tasks/:id/events` (after `lastEventId`, if given) until the controller ends it,
 * or until `stopWhen` says to drop the connection, as a client losing its network would.
 */
async function readEvents(
  w: Warren,
  id: string,
  opts: { lastEventId?: string; stopWhen?: (seen: Received[]) => boolean; token?: string } = {},
) {
  const ac = new AbortController();
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? w.token}` };
  if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
  const res = await fetch(`${w.url}/v1/tasks/${id}/events`, { headers, signal: ac.signal });
  const events: Received[] = [];
  if (res.status !== 200) return { status: res.status, events, ended: false, body: await res.text() };
  const parser = new SseParser((e) =>
    events.push({ id: e.id!, event: e.event, data: JSON.parse(e.data), at: Date.now() }),
  );
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      parser.feed(value);
      if (opts.stopWhen?.(events)) {
        ac.abort();
        break;
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return { status: res.status, events, ended, body: '', contentType: res.headers.get('content-type') };
}

/** Runs the CLI, timestamping each stdout chunk, so a test can tell lines printed live from lines printed at the end. */
function cliTimed(
  w: Warren,
  args: string[],
): Promise<{
  code: number | null;
  chunks: { at: number; text: string }[];
  stdout: string;
  stderr: string;
  spawnedAt: number;
  exitedAt: number;
}> {
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/warren.js'), ...args], {
    env: { ...process.env, WARREN_URL: w.url, WARREN_TOKEN: w.token, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: { at: number; text: string }[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => chunks.push({ at: Date.now(), text: b.toString() }));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) =>
    child.on('close', (code) =>
      resolve({ code, chunks, stdout: chunks.map((c) => c.text).join(''), stderr, spawnedAt, exitedAt: Date.now() }),
    ),
  );
}

/** When the first chunk holding `text` was printed. */
const printedAt = (chunks: { at: number; text: string }[], text: string) =>
  chunks.find((c) => c.text.includes(text))?.at ?? Infinity;

/** The stdout of one host as its output events carry it, checking that the chunks are contiguous (none missing, none twice). */
function streamedText(events: Received[], host: string): string {
  let text = '';
  for (const e of events.filter((x) => x.event === 'output' && x.data.host === host && x.data.stream === 'stdout')) {
    expect(e.data.offset).toBe(Buffer.byteLength(text));
    text += e.data.data;
  }
  return text;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('live streaming', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await Promise.all(['h1', 'h2'].map((h) => w.startAgent(h, { ROLE: h })));
  });
  afterAll(() => w.teardown());

  it('delivers the lines of a running command while it runs, in order, none missing or twice across a reconnect with Last-Event-ID', async () => {
    const createdAt = Date.now();
    const { body } = await w.api('POST', '/v1/tasks', { command: TICKER, hosts: ['h1'] });
    const first = await readEvents(w, body.id, {
      stopWhen: (seen) => seen.some((e) => e.event === 'output' && e.data.data.includes('line 8')),
    });
    expect(first.contentType).toMatch(/^text\/event-stream/);
    expect(first.ended).toBe(false); // we dropped it mid-run
    await sleep(400); // lines go on arriving while nobody is connected
    const second = await readEvents(w, body.id, { lastEventId: first.events[first.events.length - 1].id });
    expect(second.ended).toBe(true); // the controller ends the stream after `completed`
    const all = [...first.events, ...second.events];

    // Nothing twice: every id once, the second connection starting right after the first's last event.
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    // Nothing missing, in order: the chunks are contiguous and make exactly the 20 lines.
    expect(streamedText(all, 'h1')).toBe(LINES.map((l) => `${l}\n`).join(''));
    expect(all.map((e) => e.event).filter((e) => e !== 'output')).toEqual(['started', 'result', 'completed']);

    // Live: the first line came well before the command ended.
    const started = all.find((e) => e.event === 'started')!;
    const firstOutput = all.find((e) => e.event === 'output')!;
    const result = all.find((e) => e.event === 'result')!;
    expect(firstOutput.at - started.at).toBeLessThan(1_000);
    expect(Date.parse(result.data.finishedAt) - firstOutput.at).toBeGreaterThan(1_000);
    expect(result.data).toMatchObject({
      host: 'h1',
      state: 'succeeded',
      stdout: LINES.map((l) => `${l}\n`).join(''),
      stderr: 'done on h1\n',
    });
    expect(second.events[second.events.length - 1].data).toMatchObject({
      taskId: body.id,
      state: 'completed',
      summary: { total: 1, byState: { succeeded: 1 } },
    });
    console.log(`first-line latency (task created → first output event): ${firstOutput.at - createdAt} ms`);
  });

  it('measures first-line latency: the first output event a few hundred ms at most after the task is posted', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const createdAt = Date.now();
      const { body } = await w.api('POST', '/v1/tasks', {
        command: 'echo first; sleep 0.5; echo second',
        hosts: ['h1'],
      });
      const r = await readEvents(w, body.id, { stopWhen: (seen) => seen.some((e) => e.event === 'output') });
      latencies.push(r.events.find((e) => e.event === 'output')!.at - createdAt);
      await w.api('GET', `/v1/tasks/${body.id}?waitMs=5000`);
    }
    console.log(
      `first-line latency over ${latencies.length} runs: median ${median(latencies)} ms (${latencies.join(', ')} ms)`,
    );
    // The agent batches output for up to 100 ms; everything else is a few ms.
    expect(median(latencies)).toBeLessThan(500);
  });

  it('`warren run --stream` prints "host | line" while the command runs, stderr as "host ! line", then the summary and the exit status', async () => {
    const r = await cliTimed(w, ['run', TICKER, '--hosts', 'h1', 'h2', '--stream']);
    expect(r.code).toBe(1); // h2 exited 3
    for (const h of ['h1', 'h2']) {
      const lines = r.stdout.split('\n').filter((l) => l.startsWith(`${h} | `));
      expect(lines).toEqual(LINES.map((l) => `${h} | ${l}`));
      expect(r.stdout).toContain(`${h} ! done on ${h}\n`);
    }
    expect(printedAt(r.chunks, '| line 1\n')).toBeLessThan(r.exitedAt - 1_000);
    console.log(
      `warren run --stream: first line printed ${printedAt(r.chunks, '| line 1\n') - r.spawnedAt} ms after the CLI started, exit ${r.exitedAt - r.spawnedAt} ms`,
    );
    expect(r.stdout).toMatch(/^h1\s+succeeded\s+exit 0/m);
    expect(r.stdout).toMatch(/^h2\s+failed\s+exit 3/m);
    expect(r.stdout).toMatch(/2 hosts: 1 succeeded, 1 failed/);
    expect(r.stdout).not.toMatch(/^ {4}line 1$/m); // the output is not printed a second time in the summary
  });

  it('`warren check <id> --follow` on a running task prints what it missed and then the rest live, each line once', async () => {
    const run = await w.cli(['run', TICKER, '--hosts', 'h1']);
    const id = run.stdout.trim();
    await sleep(700); // some lines are out before anyone follows
    const r = await cliTimed(w, ['check', id, '--follow']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('h1 | '))).toEqual(LINES.map((l) => `h1 | ${l}`));
    expect(printedAt(r.chunks, 'h1 | line 1\n')).toBeLessThan(r.exitedAt - 500);
    expect(r.stdout).toMatch(/1 host: 1 succeeded/);
  });

  it('keeps the whole output, up to the cap, for a task nobody watched; and prints it all from the result to a late follower', async () => {
    const command = 'seq 1 20000'; // ~108 KiB: many chunks
    const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
    const task = await w.runAndWait({ command, hosts: ['h1'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: expected, stdoutTruncated: false });
    const late = await cliTimed(w, ['check', task.id, '--follow']);
    expect(late.code).toBe(0);
    const printed = late.stdout
      .split('\n')
      .filter((l) => l.startsWith('h1 | '))
      .map((l) => l.slice('h1 | '.length));
    expect(printed.join('\n') + '\n').toBe(expected);
  });

  it('`--no-live`: the agents send no output chunks, the task says so, the whole output comes with each result, and --follow prints it then', async () => {
    const r = await w.cli(['run', TICKER, '--hosts', 'h1', 'h2', '--no-live', '--json']);
    expect(r.code).toBe(0);
    const { id } = JSON.parse(r.stdout);
    const sse = await readEvents(w, id);
    expect(sse.ended).toBe(true);
    expect(sse.events.map((e) => e.event).sort()).toEqual(['completed', 'result', 'result', 'started', 'started']);
    for (const h of ['h1', 'h2']) {
      const result = sse.events.find((e) => e.event === 'result' && e.data.host === h)!;
      expect(result.data.stdout).toBe(LINES.map((l) => `${l}\n`).join(''));
      const finished = JSON.parse(
        await w.agents
          .get(h)!
          .waitFor(new RegExp(`"invocation finished".*"taskId":"${id}"|"taskId":"${id}".*"invocation finished"`)),
      );
      expect(finished.chunks).toBe(0);
    }
    const task = (await w.api('GET', `/v1/tasks/${id}`)).body;
    expect(task.live).toBe(false);
    const follow = await w.cli(['check', id, '--follow']);
    expect(follow.code).toBe(1); // h2 fails
    expect(follow.stdout.split('\n').filter((l) => l.startsWith('h1 | '))).toEqual(LINES.map((l) => `h1 | ${l}`));
    // A re-run keeps it; and --stream, which prints live output, refuses it.
    const again = JSON.parse((await w.cli(['rerun', id, '--json'])).stdout);
    expect((await w.api('GET', `/v1/tasks/${again.id}?waitMs=10000`)).body).toMatchObject({ live: false, rerunOf: id });
    const both = await w.cli(['run', 'true', '--hosts', 'h1', '--no-live', '--stream']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--no-live/);
    expect((await w.api('POST', '/v1/tasks', { command: 'true', hosts: ['h1'], live: 'no' })).status).toBe(400);
  });

  it('refuses unknown tasks (404), missing tokens (401) and tokens whose host patterns do not cover the task (403)', async () => {
    const task = await w.runAndWait({ command: 'true', hosts: ['h1'] });
    expect((await readEvents(w, 't_nosuchtask')).status).toBe(404);
    const noToken = await fetch(`${w.url}/v1/tasks/${task.id}/events`);
    expect(noToken.status).toBe(401);
    await noToken.text();
    const onlyH2 = w.createToken('h2-viewer', 'viewer', ['h2']);
    expect((await readEvents(w, task.id, { token: onlyH2 })).status).toBe(403);
    const viewer = w.createToken('viewer', 'viewer');
    const ok = await readEvents(w, task.id, { token: viewer });
    expect(ok.events.map((e) => e.event)).toEqual(['started', 'result', 'completed']);
  });

  it("ends the response of a done task resumed at or past its end (its completed's id, an id beyond any offset) with no event", async () => {
    const task = await w.runAndWait({ command: 'echo hi', hosts: ['h1'] });
    const all = await readEvents(w, task.id);
    const completed = all.events.find((e) => e.event === 'completed')!;
    for (const lastEventId of [completed.id, '999999999-0']) {
      const r = await readEvents(w, task.id, { lastEventId });
      expect(r).toMatchObject({ status: 200, ended: true, events: [] });
    }
  });

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'a CLI follower survives a controller restart (%s) mid-run: it reconnects and still prints every line once',
    async (signal) => {
      const run = await w.cli(['run', TICKER, '--hosts', 'h1', '--timeout', '30s']);
      const id = run.stdout.trim();
      const follower = cliTimed(w, ['check', id, '--follow']);
      await sleep(600);
      const port = new URL(w.url).port;
      const stopping = Date.now();
      await w.controller!.stop(signal);
      expect(Date.now() - stopping).toBeLessThan(3_000); // an open event stream does not hold a stopping controller
      await w.startController({}, ['--auto-accept', '--port', port]);
      const r = await follower;
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('h1 | '))).toEqual(LINES.map((l) => `h1 | ${l}`));
      await until(async () => (await w.api('GET', `/v1/tasks/${id}`)).body.state === 'completed');
    },
  );
});
