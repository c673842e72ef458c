import type { ControllerClient } from '../http/controller.client';
import { type CommandContext, showTask } from './command.context';
import { guardWatch } from './interrupt';
import { followTask } from './stream.follow';
import { waitForTask } from './task.poller';
import { escapeControls } from '../render/terminal.safe';

/** `--raw` of run, rerun and check. */
export const RAW_HELP =
  "print the hosts' output exactly as it came, terminal control sequences included (by default they are shown escaped: \\x1b, \\r, \\u202e); --json is always exact";

/** How `run` or `rerun` watches the task it just created. */
export interface WatchMode {
  /** print lines live (`host | line`), then the summary */
  stream?: boolean;
  json?: boolean;
  collapse?: boolean;
  /** `--raw`: the hosts' output as it came, control characters and all */
  raw?: boolean;
}

/**
 * Watches task `id` until it has finished, with Ctrl-C guarded (cancel or detach), and sets the
 * exit status from its results. `intro` is the stderr note printed first on a terminal. If the
 * watch fails (the controller went away), says how to look at the task later and rethrows.
 */
export async function watchTask(
  ctx: CommandContext,
  client: ControllerClient,
  id: string,
  intro: string,
  mode: WatchMode,
): Promise<void> {
  const how = mode.stream ? 'streaming' : 'waiting';
  const ctrlC = ctx.interrupts
    ? 'Ctrl-C: cancel or detach'
    : `Ctrl-C stops ${how === 'streaming' ? 'watching' : 'waiting'}, not the task`;
  if (ctx.io.stderr.isTTY) ctx.io.stderr.write(`warren: ${escapeControls(intro)}; ${how} (${ctrlC})\n`);
  const release = guardWatch(ctx.interrupts, id, client, ctx.io.stderr);
  try {
    if (mode.stream) return ctx.setExit(await followTask(ctx, client, id, mode.raw));
    const task = await waitForTask(client, id, ctx.poll);
    release(); // before the results: a question still open is withdrawn above them
    ctx.setExit(showTask(ctx, task, mode.json === true, mode.collapse === true, mode.raw === true));
  } catch (err) {
    ctx.io.stderr.write(escapeControls(`warren: task ${id} was sent; see it later with: warren check ${id}\n`));
    throw err;
  } finally {
    release();
  }
}
