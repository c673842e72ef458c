import type { CliIo } from '../cli.io';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import type { TaskView } from '@warren/api';
import type { ControllerClient } from '../http/controller.client';
import { collapsedTaskJson, renderCollapsedTask } from '../render/task.collapse';
import { allSucceeded, renderTask } from '../render/task.render';
import type { Confirmer } from './confirm.prompt';
import type { InterruptHub } from './interrupt';
import type { PollTuning } from './task.poller';
import { jsonForTerminal } from '../render/terminal.safe';

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
  /** who is asked before a large run; default: the terminal on stdin, if any */
  confirm?: Confirmer;
  /** Ctrl-C while watching a task (only in the real process): cancel or detach */
  interrupts?: InterruptHub;
  /** ms `warren fetch` retries a download answered 409 "incomplete"; default 10 s (tests shorten it) */
  incompleteRetryMs?: number;
}

/** Writes one JSON document to stdout, with nothing in it a terminal acts on ({@link jsonForTerminal}). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${jsonForTerminal(value)}\n`);
}

/**
 * Prints a finished or running task (human or `--json`; with `collapse`, hosts with identical
 * results as one group; with `raw`, the hosts' output unescaped) and returns its exit status: 0 only when every host succeeded.
 */
export function showTask(ctx: CommandContext, task: TaskView, json: boolean, collapse = false, raw = false): number {
  const opts = { color: colorEnabled(ctx.io), now: ctx.now(), raw };
  if (json) printJson(ctx, collapse ? collapsedTaskJson(task) : task);
  else ctx.io.stdout.write(collapse ? renderCollapsedTask(task, opts) : renderTask(task, opts));
  return allSucceeded(task) ? EXIT.OK : EXIT.NOT_ALL_SUCCEEDED;
}
