/**
 * Posts a task to a Warren controller and follows its events (Server-Sent Events) until the task
 * completes: live output as it comes, then each host's result. Needs nothing but Node 20+ (its
 * global `fetch`); TypeScript, so run it with tsx (or `node` from 23.6 on, which strips types):
 *
 *   WARREN_URL=http://127.0.0.1:7070 WARREN_TOKEN="$(cat ~/.warren/token)" \
 *     npx tsx docs/examples/follow-task.mts 'uptime' "$(hostname -s)"
 *
 * Exit status: 0 every host succeeded, 1 some did not, 2 bad arguments or an HTTP error.
 * The routes and bodies: docs/api.md, docs/streaming.md, and the OpenAPI document (docs/openapi.json).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const url = process.env.WARREN_URL ?? 'http://127.0.0.1:7070';
const tokenFile = join(homedir(), '.warren', 'token');
let token = process.env.WARREN_TOKEN;
try {
  token ??= readFileSync(tokenFile, 'utf8').trim();
} catch {
  console.error(`no API token: set WARREN_TOKEN or write one to ${tokenFile}`);
  process.exit(2);
}
const [command, ...hosts] = process.argv.slice(2);
if (!command || hosts.length === 0) {
  console.error('usage: follow-task.mts <command> <host>...');
  process.exit(2);
}
const auth = { authorization: `Bearer ${token}` };

/** One host's result, as the `result` event carries it (`HostResult` in the OpenAPI document). */
interface HostResult {
  host: string;
  state: string;
  exitCode: number | null;
  durationMs: number | null;
  reason: string | null;
  stdout: string;
  stderr: string;
}

async function fail(what: string, res: Response): Promise<never> {
  console.error(`${what}: ${res.status} ${await res.text()}`);
  process.exit(2);
}

// 1. Post the task: 202 {id, hosts, …} once the broker has the commands.
const created = await fetch(`${url}/v1/tasks`, {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  body: JSON.stringify({ command, hosts }),
});
if (created.status !== 202) await fail('POST /v1/tasks', created);
const task = (await created.json()) as { id: string; hosts: string[] };
console.log(`task ${task.id} on ${task.hosts.join(' ')}`);

// 2. Follow its events until `completed`, after which the controller ends the response. Should the
// connection drop before that (the controller restarts, the network cuts), reconnect after the
// stream's `retry:` (1 s) with the last event's id: the stream resumes after it, on any controller.
const RECONNECTS = 30;
let lastEventId: string | null = null;
let allSucceeded: boolean | null = null;
for (let attempt = 0; allSucceeded === null; attempt++) {
  if (attempt > 0) {
    if (attempt > RECONNECTS) {
      console.error(`the event stream dropped ${RECONNECTS} times; the task goes on: warren check ${task.id}`);
      process.exit(2);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  try {
    await follow();
  } catch (err) {
    console.error(`event stream: ${(err as Error).message}; reconnecting`);
  }
}
process.exit(allSucceeded ? 0 : 1);

/** Reads one response of the event stream to its end (or throws when the connection breaks). */
async function follow(): Promise<void> {
  const res = await fetch(`${url}/v1/tasks/${task.id}/events`, {
    headers: { ...auth, accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
  });
  if (res.status === 503) throw new Error('503: the controller is busy or its broker is away');
  if (res.status !== 200 || !res.body) await fail('GET /v1/tasks/:id/events', res);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // Each event: `id: …`, `event: …`, one `data: <JSON>` line; lines starting with `:` are keep-alives.
      const field = (name: string) => block.match(new RegExp(`^${name}: ?(.*)$`, 'm'))?.[1];
      const event = field('event');
      const data = field('data');
      if (!event || data === undefined) continue;
      lastEventId = field('id') ?? lastEventId;
      const body = JSON.parse(data);
      if (event === 'output') process.stdout.write(`${body.host} ${body.stream}| ${body.data}`);
      if (event === 'result') {
        const r = body as HostResult;
        console.log(
          `${r.host}  ${r.state}  exit ${r.exitCode ?? '-'}  ${r.durationMs ?? '-'} ms${r.reason ? `  ${r.reason}` : ''}`,
        );
        for (const line of r.stdout.split('\n').filter(Boolean)) console.log(`    ${line}`);
      }
      if (event === 'completed') {
        const { total, byState } = body.summary as { total: number; byState: Record<string, number> };
        console.log(
          `${total} hosts: ${Object.entries(byState)
            .map(([s, n]) => `${n} ${s}`)
            .join(', ')}`,
        );
        allSucceeded = (byState.succeeded ?? 0) === total;
      }
    }
  }
}
