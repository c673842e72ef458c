import { formatColumns } from '@warren/api';
import type { HostResult, TaskView } from '@warren/api';
import { backoffDelay, type BackoffOptions } from '@warren/runtime';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import type { ControllerClient } from '../http/controller.client';
import { ApiError, ControllerUnreachableError } from '../http/http.errors';
import type { SseEvent } from '../http/sse.parser';
import { painter } from '../render/colors';
import { allSucceeded, headerDetail, inHostOrder, OUTPUT_FIELDS, summaryLines } from '../render/task.render';
import { forTerminal } from '../render/terminal.safe';
import type { CommandContext } from './command.context';
import { outageTooLong } from './task.poller';
import { type OutputEvent, type ResultEvent, StreamPrinter } from './stream.printer';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reconnect delays: the first at most 250 ms, doubling after each failure in a row, at most 2 s; jittered. */
const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 2_000 };

/**
 * `--stream` / `--follow`: prints the task's output live as `host | line` (stderr `host ! line`)
 * from `GET /v1/tasks/:id/events`, reconnecting with `Last-Event-ID` when the connection drops
 * (until `ctx.poll.maxFailures` failures in a row have taken at least `ctx.poll.outageMs`, so that a
 * controller restart is waited out; a `503` with `Retry-After` from a controller at its
 * `--max-event-streams` counts as one, and it waits that long), then one header line per host and the summary,
 * as `warren check` prints them without the output. Returns the exit status: 0 only if every host
 * succeeded.
 */
export async function followTask(
  ctx: CommandContext,
  client: ControllerClient,
  id: string,
  raw = false,
): Promise<number> {
  const printer = new StreamPrinter(ctx.io.stdout, colorEnabled(ctx.io), raw);
  let lastEventId: string | undefined;
  let completed = false;
  let failures = 0;
  /** ms: when the current run of failures began */
  let since = 0;
  const onEvent = (e: SseEvent) => {
    failures = 0;
    const data = JSON.parse(e.data) as unknown;
    if (e.event === 'output') printer.output(data as OutputEvent);
    else if (e.event === 'result') printer.result(data as ResultEvent);
    else if (e.event === 'completed') completed = true;
    lastEventId = e.id; // only once handled: a reconnect resumes after what was printed
  };
  while (!completed) {
    try {
      await client.streamTaskEvents(id, lastEventId, onEvent);
      // The controller ends the stream after `completed`, or when it shuts down: then resume.
      if (completed) break;
      if (failures++ === 0) since = Date.now();
    } catch (err) {
      const busy = err instanceof ApiError && err.status === 503 && err.retryAfterSec !== undefined;
      if (!(err instanceof ControllerUnreachableError) && !busy) throw err;
      if (failures++ === 0) since = Date.now();
      if (outageTooLong(failures, since, ctx.poll)) throw err;
      if (busy) {
        // The controller serves its --max-event-streams already: wait as long as it asks.
        ctx.io.stderr.write(`warren: ${err.message}; waiting ${err.retryAfterSec} s\n`);
        await sleep(err.retryAfterSec! * 1000);
        continue;
      }
    }
    await sleep(backoffDelay(failures - 1, RECONNECT_BACKOFF));
  }
  const task = await client.getTask(id);
  ctx.io.stdout.write(renderStreamSummary(task, colorEnabled(ctx.io), ctx.now()));
  return allSucceeded(task) ? EXIT.OK : EXIT.NOT_ALL_SUCCEEDED;
}

/** After the live lines: a blank line, each host's header (`web1  succeeded  exit 0  2.0 s`), and the summary. */
export function renderStreamSummary(given: TaskView, color: boolean, now: number): string {
  const task = inHostOrder(forTerminal(given, OUTPUT_FIELDS));
  const paint = painter(color);
  const results: HostResult[] = task.results;
  const headers = formatColumns(
    results.map((r) => [r.host, r.state, ...headerDetail(r, task, now)]),
    (cell, row, col) => (col === 1 ? paint(cell, results[row].state) : cell),
  );
  return ['', ...headers, '', ...summaryLines(task, paint, now)].join('\n') + '\n';
}
