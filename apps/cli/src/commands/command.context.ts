import type { CliIo } from '../cli.io';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import type { TaskView } from '../http/api.types';
import type { ControllerClient } from '../http/controller.client';
import { allSucceeded, renderTask } from '../render/task.render';
import type { PollTuning } from './task.poller';

/** What every command gets: the streams, the controller client, and a way to report its exit status. */
export interface CommandContext {
  io: CliIo;
  /** the client for `--url` / `WARREN_URL`; valid once options are parsed */
  client(): ControllerClient;
  poll: PollTuning;
  /** ms since epoch */
  now(): number;
  /** the command's exit status when it ends without an error */
  setExit(code: number): void;
}

/** Writes one JSON document to stdout. */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints a finished or running task (human or `--json`) and returns its exit status: 0 only when every host succeeded. */
export function showTask(ctx: CommandContext, task: TaskView, json: boolean): number {
  if (json) printJson(ctx, task);
  else ctx.io.stdout.write(renderTask(task, { color: colorEnabled(ctx.io), now: ctx.now() }));
  return allSucceeded(task) ? EXIT.OK : EXIT.NOT_ALL_SUCCEEDED;
}
