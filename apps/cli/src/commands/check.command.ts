import type { OutputStream } from '@warren/api';
import type { Command } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import type { ControllerClient } from '../http/controller.client';
import { formatBytes } from '../render/units.format';
import { type CommandContext, showTask } from './command.context';
import { followTask } from './stream.follow';
import { RAW_HELP } from './task.watch';
import { waitForTask } from './task.poller';
import { escapeControls } from '../render/terminal.safe';

interface CheckOptions {
  wait?: boolean;
  follow?: boolean;
  json?: boolean;
  collapse?: boolean;
  host?: string;
  stdout?: boolean;
  stderr?: boolean;
  raw?: boolean;
}

/** `warren check <task-id>` (alias `check_task`): shows a task; exits 4 if it is still running and `--wait` was not given. */
export function registerCheckCommand(program: Command, ctx: CommandContext): void {
  program
    .command('check')
    .alias('check_task')
    .description("show a task's results, host by host")
    .argument('<task-id>', 'as printed by warren run')
    .option('--wait', 'wait until every host has finished')
    .option(
      '--follow',
      'print each host\'s output live as "host | line" (stderr: "host ! line") until every host has finished, then each host\'s state and the summary',
    )
    .option('--json', 'print the task as the API returns it (with --collapse: groups instead of results)')
    .option(
      '--collapse',
      'print hosts with identical state, exit code and output once, as one group headed by their folded names (web[01-40])',
    )
    .option('--host <host>', 'with --stdout or --stderr: the host whose output to write')
    .option(
      '--stdout',
      "write the host's stdout exactly as the command wrote it (up to the agent's cap) and nothing else: warren check <id> --host web1 --stdout > file",
    )
    .option('--stderr', "write the host's stderr exactly, as --stdout does")
    .option('--raw', RAW_HELP)
    .action(async (id: string, opts: CheckOptions) => {
      const client = ctx.client();
      if (opts.host !== undefined || opts.stdout || opts.stderr)
        return ctx.setExit(await writeOutput(ctx, client, id, opts));
      if (opts.follow) {
        if (opts.json || opts.collapse)
          throw new UsageError(
            '--follow prints lines as they come: it cannot be combined with --json or --collapse (use --wait)',
          );
        return ctx.setExit(await followTask(ctx, client, id, opts.raw));
      }
      const task = opts.wait ? await waitForTask(client, id, ctx.poll) : await client.getTask(id);
      const code = showTask(ctx, task, opts.json === true, opts.collapse === true, opts.raw === true);
      if (task.state !== 'running') return ctx.setExit(code);
      ctx.io.stderr.write(`warren: task ${task.id} still running\n`);
      ctx.setExit(EXIT.STILL_RUNNING);
    });
}

/** The one stream `--stdout`/`--stderr` asks for, after checking the flags that go with it. */
function streamOf(opts: CheckOptions): OutputStream {
  if (opts.stdout && opts.stderr) throw new UsageError('--stdout and --stderr write one stream each: give one');
  if (!opts.stdout && !opts.stderr)
    throw new UsageError('--host picks the host whose output --stdout or --stderr writes: give one of them');
  const stream = opts.stdout ? 'stdout' : 'stderr';
  if (opts.host === undefined) throw new UsageError(`--${stream} writes one host's output: name it with --host`);
  if (opts.json || opts.collapse || opts.follow)
    throw new UsageError(
      `--${stream} writes the bytes alone: it cannot be combined with --json, --collapse or --follow`,
    );
  return stream;
}

/**
 * `--host h --stdout`: writes the bytes of the host's stream exactly (its sha256 is the one the
 * host's command wrote, up to the agent's cap) to stdout, and anything to know about them to
 * stderr. Exits 0 when that host succeeded, 4 while it has not finished, 1 otherwise.
 */
async function writeOutput(ctx: CommandContext, client: ControllerClient, id: string, opts: CheckOptions) {
  const stream = streamOf(opts);
  const host = opts.host!;
  if (opts.wait) await waitForTask(client, id, ctx.poll);
  const out = await client.getOutput(id, host, stream);
  ctx.io.stdout.write(out.bytes);
  const note = (line: string) => ctx.io.stderr.write(`warren: ${escapeControls(line)}\n`);
  if (out.state === 'pending' || out.state === 'running') {
    note(`task ${id} still running on ${host}: its output comes with its result (use --wait)`);
    return EXIT.STILL_RUNNING;
  }
  if (out.truncated)
    note(
      `${host}'s ${stream} was cut at the agent's cap: the first ${formatBytes(out.bytes.length)} of ${formatBytes(out.totalBytes)}`,
    );
  if (out.utf8 === null)
    note(
      `${host}'s agent predates exact output capture: these are the bytes of its text, in which invalid UTF-8 was replaced`,
    );
  return out.state === 'succeeded' ? EXIT.OK : EXIT.NOT_ALL_SUCCEEDED;
}
