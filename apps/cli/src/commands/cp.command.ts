import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { CreateTaskRequest, PutRequest, TaskAccepted } from '@warren/api';
import { DURATION_FORMAT } from '@warren/api';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import { parseHostList } from '../parse/hosts.parser';
import { destinations, parseMode, parseOwner } from '../parse/file-flags.parser';
import { collapsedTaskJson } from '../render/task.collapse';
import { allSucceeded } from '../render/task.render';
import { escapeControls } from '../render/terminal.safe';
import { formatBytes } from '../render/units.format';
import { type CommandContext, printJson, showTask } from './command.context';
import { type LocalSource, localSource, uploadSource } from './file.source';
import { duration } from './run.command';
import { waitForTask } from './task.poller';
import { watchTask } from './task.watch';
import {
  addTargetingOptions,
  applyTargeting,
  noteLeftOut,
  settleTarget,
  TARGETING_HELP,
  type TargetingOptions,
} from './targeting';

interface CpOptions extends TargetingOptions {
  dest: string;
  mode?: string;
  owner?: string;
  mkdir?: boolean;
  timeout?: number;
  deliveryTimeout?: number;
  wait?: boolean;
  json?: boolean;
  collapse?: boolean;
}

function checked<T>(parse: (text: string) => T) {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}.`);
    }
  };
}

/**
 * The `put` of each file, in the order given: its destination by the scp rule ({@link destinations}),
 * `--mode` as `"0644"`, `--owner` as typed once checked, `--mkdir`. `file` is left empty: it is the
 * SHA-256 the upload returns. Throws a {@link UsageError} for a bad destination.
 */
export function buildPuts(files: string[], opts: Pick<CpOptions, 'dest' | 'mode' | 'owner' | 'mkdir'>): PutRequest[] {
  let dests: string[];
  try {
    dests = destinations(files, opts.dest, (f) => basename(f));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return dests.map((dest) => ({
    file: '',
    dest,
    ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
    ...(opts.owner !== undefined ? { owner: opts.owner } : {}),
    ...(opts.mkdir ? { mkdir: true } : {}),
  }));
}

/** The task body of one put, with the targeting, rolling and timeout flags the user gave. */
export function buildPutRequest(put: PutRequest, opts: CpOptions): CreateTaskRequest {
  const hosts = parseHostList(opts.hosts ?? []);
  if (opts.hosts && hosts.length === 0) throw new UsageError('--hosts names no host');
  const body = applyTargeting({ put, ...(hosts.length > 0 ? { hosts } : {}) }, opts);
  if (opts.timeout !== undefined) body.timeoutMs = opts.timeout;
  if (opts.deliveryTimeout !== undefined) body.deliveryTimeoutMs = opts.deliveryTimeout;
  return body;
}

/** SHA-256 of a local file, read as a stream: what a dry run names instead of uploading it. */
async function localSha256(source: LocalSource): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    source.open(),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done();
      },
    }),
  );
  return hash.digest('hex');
}

/**
 * Waits for every task of a several-file copy and prints each under a `<file> -> <dest>` line (or
 * one JSON array: the tasks, or with `--collapse` their grouped form), then sets the worst exit
 * status: 0 only when every host of every task succeeded.
 */
async function waitForAll(
  ctx: CommandContext,
  tasks: { accepted: TaskAccepted; file: string; dest: string }[],
  opts: CpOptions,
): Promise<void> {
  const client = ctx.client();
  const docs: unknown[] = [];
  let code: number = EXIT.OK;
  for (const [i, t] of tasks.entries()) {
    const view = await waitForTask(client, t.accepted.id, ctx.poll);
    if (!allSucceeded(view)) code = EXIT.NOT_ALL_SUCCEEDED;
    if (opts.json) {
      docs.push(opts.collapse ? collapsedTaskJson(view) : view);
      continue;
    }
    ctx.io.stdout.write(`${i > 0 ? '\n' : ''}${escapeControls(`${t.file} -> ${t.dest}`)}\n`);
    showTask(ctx, view, false, opts.collapse === true);
  }
  if (opts.json) printJson(ctx, docs);
  ctx.setExit(code);
}

/** `warren cp <file>… --dest <path> --hosts …`: uploads each file once, then one put task per file. */
export function registerCpCommand(program: Command, ctx: CommandContext): void {
  addTargetingOptions(program.command('cp'))
    .description(
      'copy local files to hosts (uploaded once, carried by the broker); prints the task ids, or the results with --wait',
    )
    .argument('<file...>', 'local files; each is uploaded once, then written on every host')
    .requiredOption(
      '--dest <path>',
      'absolute destination on each host; with several files, or a path ending in /, a directory that receives <dest>/<name> (like scp)',
    )
    .option(
      '--mode <octal>',
      'permission bits of the written file, 644 or 0644 (default 0644 for a new file; an existing file keeps its own)',
      checked(parseMode),
    )
    .option(
      '--owner <user[:group]>',
      "owner (and group) of the written file; the agent's policy decides which users are allowed (default: the user it runs commands as)",
      (text: string) => {
        checked(parseOwner)(text);
        return text;
      },
    )
    .option(
      '--mkdir',
      "create the destination's missing parent directories (default: a missing directory fails that host)",
    )
    .option(
      '--timeout <duration>',
      'how long each host may take to receive and write the file once it has taken it (default 60s)',
      duration(false),
    )
    .option(
      '--delivery-timeout <duration>',
      "how long the copy may wait for a host's agent to take it; after that the host is undelivered (default 60s)",
      duration(false),
    )
    .option(
      '--wait',
      'wait until every host has the file (or failed), show each host (changed or unchanged, size, SHA-256), and exit 0 only if all succeeded',
    )
    .option(
      '--json',
      'print JSON: {id, hosts, state} per file, or with --wait the whole task (several files: an array)',
    )
    .option(
      '--collapse',
      'with --wait: print hosts with identical results once, as one group headed by their folded names',
    )
    .addHelpText(
      'after',
      `
Each file is uploaded to the controller once (streamed, up to its --max-file-size, default 100 MiB),
then sent to the hosts in 512 KiB chunks, each verified against the signed manifest, written to a
temporary file beside the destination and renamed over it: a host never sees a partial file. A host
that already has the same bytes reports "unchanged" and receives nothing. Several files are one
task each. See docs/files.md.
Exit status: 0 every host has the file (without --wait: the tasks were accepted), 1 at least one
host did not succeed, 2 usage error (a bad flag, a file over the controller's size limit: 413),
3 controller unreachable; the full table is in warren --help.
Durations: ${DURATION_FORMAT}.${TARGETING_HELP}

Examples:
  warren cp motd.txt --dest /etc/motd --hosts web1 web2 --wait
  warren cp app.tar.gz app.sha256 --dest /srv/app/ --label role=web --mkdir --wait
  warren cp nginx.conf --dest /etc/nginx/nginx.conf --mode 0644 --owner root:root --all --wait --collapse
  warren cp big.iso --dest /srv/iso/big.iso --hosts 'web[01-50]' --concurrency 10 --wait`,
    )
    .action(async (files: string[], opts: CpOptions) => {
      if (opts.collapse && !opts.wait)
        throw new UsageError('--collapse needs --wait (without it, cp prints only the task ids)');
      const puts = buildPuts(files, opts);
      if (files.includes('-'))
        throw new UsageError(
          'cp copies files, not standard input; to feed a command its input, use warren run --stdin -',
        );
      const sources = await Promise.all(files.map((f) => localSource(f, ctx.io, 'cp')));
      const client = ctx.client();
      const template = buildPutRequest(puts[0], opts);
      if (opts.dryRun) template.put = { ...puts[0], file: await localSha256(sources[0]) };
      const settled = await settleTarget(ctx, client, template, opts);
      if (settled === null) return; // a dry run, or not confirmed
      const uploaded = [];
      for (const source of sources) {
        const file = await uploadSource(client, source);
        uploaded.push(file);
        if (ctx.io.stderr.isTTY)
          ctx.io.stderr.write(
            `warren: uploaded ${escapeControls(source.path)} (${formatBytes(file.size)}, sha256 ${file.sha256})\n`,
          );
      }
      const tasks: TaskAccepted[] = [];
      for (const [i, put] of puts.entries()) {
        const accepted = await client.createTask({ ...settled, put: { ...put, file: uploaded[i].sha256 } });
        if (i === 0) noteLeftOut(ctx, accepted);
        tasks.push(accepted);
      }
      if (!opts.wait) {
        if (opts.json) printJson(ctx, tasks.length === 1 ? tasks[0] : tasks);
        else for (const t of tasks) ctx.io.stdout.write(`${escapeControls(t.id)}\n`);
        return ctx.setExit(EXIT.OK);
      }
      if (tasks.length === 1) {
        const [t] = tasks;
        const intro = `task ${t.id} copies ${files[0]} to ${t.hosts.length} host(s)`;
        return watchTask(ctx, client, t.id, intro, opts);
      }
      await waitForAll(
        ctx,
        tasks.map((accepted, i) => ({ accepted, file: files[i], dest: puts[i].dest })),
        opts,
      );
    });
}
