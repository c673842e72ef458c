import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { foldHosts, formatColumns, type CreateTaskRequest, type HostResult, type TaskView } from '@warren/api';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import type { ControllerClient } from '../http/controller.client';
import { downloadHostFile, isIncomplete } from '../http/files.client';
import { ApiError, ControllerUnreachableError } from '../http/http.errors';
import { parseMaxSize } from '../parse/file-flags.parser';
import { parseHostList } from '../parse/hosts.parser';
import { headerDetail } from '../render/task.render';
import { escapeControls } from '../render/terminal.safe';
import { formatBytes } from '../render/units.format';
import { type CommandContext, printJson } from './command.context';
import { duration } from './run.command';
import { waitForTask } from './task.poller';
import {
  addTargetingOptions,
  applyTargeting,
  noteLeftOut,
  settleTarget,
  TARGETING_HELP,
  type TargetingOptions,
} from './targeting';

/** ms a download answered 409 "incomplete" (chunks still arriving at the controller) is retried */
export const INCOMPLETE_RETRY_MS = 10_000;
/** ms between two tries of an incomplete download */
const INCOMPLETE_PAUSE_MS = 250;

interface FetchOptions extends TargetingOptions {
  dest: string;
  maxSize?: number;
  timeout?: number;
  deliveryTimeout?: number;
  json?: boolean;
}

/** One host of a fetch: where its copy was written, or why there is none. */
export interface FetchedFile {
  host: string;
  /** the host's invocation state */
  state: HostResult['state'];
  /** local path written, `<dest>/<host>/<name>`; null when nothing was written */
  path: string | null;
  /** bytes; null when nothing was written */
  size: number | null;
  /** lowercase hex SHA-256 the agent reported and the written bytes match; null when nothing was written */
  sha256: string | null;
  /** why there is no file: the host's reason, or a download refused here (hash mismatch); null when written */
  error: string | null;
}

/** The task body of a fetch. */
export function buildGetRequest(path: string, opts: FetchOptions): CreateTaskRequest {
  if (!path.startsWith('/') || path.endsWith('/'))
    throw new UsageError(`the remote path must be an absolute path to a file, got ${JSON.stringify(path)}`);
  const hosts = parseHostList(opts.hosts ?? []);
  if (opts.hosts && hosts.length === 0) throw new UsageError('--hosts names no host');
  const get = { path, ...(opts.maxSize !== undefined ? { maxBytes: opts.maxSize } : {}) };
  const body = applyTargeting({ get, ...(hosts.length > 0 ? { hosts } : {}) }, opts);
  if (opts.timeout !== undefined) body.timeoutMs = opts.timeout;
  if (opts.deliveryTimeout !== undefined) body.deliveryTimeoutMs = opts.deliveryTimeout;
  return body;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Downloads one host's copy into `<dir>/<host>/<name>`: written to a temporary file beside it,
 * renamed only once its SHA-256 equals the one the host's agent reported (a mismatch leaves
 * nothing and is reported as that host's error). A 409 "incomplete" is retried for `retryMs`
 * (default {@link INCOMPLETE_RETRY_MS}).
 */
export async function fetchHostFile(
  client: ControllerClient,
  task: TaskView,
  r: HostResult,
  dir: string,
  name: string,
  retryMs = INCOMPLETE_RETRY_MS,
): Promise<FetchedFile> {
  const base = { host: r.host, state: r.state };
  const file = r.file;
  if (!file)
    return { ...base, path: null, size: null, sha256: null, error: 'the controller reported no file for this host' };
  // A host name is a DNS-like label; anything that could step out of <dir> is refused, not written.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(r.host) || r.host.includes('..'))
    return { ...base, path: null, size: null, sha256: null, error: 'host name is not usable as a directory name' };
  const hostDir = join(dir, r.host);
  const target = join(hostDir, name);
  const temp = join(hostDir, `.${name}.warren-fetch.tmp`);
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      await mkdir(hostDir, { recursive: true });
      // Created exclusively (O_EXCL never follows a symlink): a link planted at the temp name in a
      // shared --dest is removed, not written through (a name that reappears fails this host).
      await rm(temp, { force: true });
      const out = createWriteStream(temp, { mode: 0o600, flags: 'wx' });
      const got = await downloadHostFile(client, task.id, r.host, out, file.size);
      if (got.sha256 !== file.sha256) {
        await rm(temp, { force: true });
        const error = `refused: the downloaded bytes have sha256 ${got.sha256}, not the ${file.sha256} the host reported`;
        return { ...base, path: null, size: null, sha256: null, error };
      }
      await rename(temp, target);
      return { ...base, path: target, size: got.size, sha256: got.sha256, error: null };
    } catch (err) {
      await rm(temp, { force: true });
      if (isIncomplete(err) && Date.now() < deadline) {
        await sleep(INCOMPLETE_PAUSE_MS);
        continue;
      }
      // One host's refused download or a local write that failed is that host's error, not the end
      // of the others' downloads; a controller that cannot be reached is (exit 3).
      const error =
        err instanceof ApiError
          ? `download refused (HTTP ${err.status}): ${err.messages.join('; ')}`
          : typeof (err as NodeJS.ErrnoException).code === 'string' && !(err instanceof ControllerUnreachableError)
            ? `cannot write ${target}: ${(err as Error).message}`
            : null;
      if (error === null) throw err;
      return { ...base, path: null, size: null, sha256: null, error };
    }
  }
}

/** `web1  succeeded  1.2 MiB  sha256 …  out/web1/syslog`, then the summary like run's. */
function renderFetch(task: TaskView, files: FetchedFile[], now: number): string {
  const rows = files.map((f) => {
    const r = task.results.find((x) => x.host === f.host)!;
    if (f.path !== null) return [f.host, 'succeeded', formatBytes(f.size ?? 0), `sha256 ${f.sha256}`, f.path];
    if (r.state === 'succeeded') return [f.host, 'failed', f.error ?? ''];
    return [f.host, r.state, ...headerDetail(r, task, now)];
  });
  const lines = formatColumns(rows.map((row) => row.map((c) => escapeControls(c))));
  const ok = files.filter((f) => f.path !== null).length;
  const bad = files.filter((f) => f.path === null).map((f) => f.host);
  lines.push(
    '',
    `${files.length} host${files.length === 1 ? '' : 's'}: ${ok} fetched${bad.length ? `, ${bad.length} not` : ''}  (task ${task.id})`,
  );
  if (bad.length > 0) lines.push(`not fetched (${bad.length}): ${foldHosts(bad)}`);
  return lines.join('\n') + '\n';
}

/** `warren fetch <remote-path> --dest <dir> --hosts …`: each host's copy into `<dir>/<host>/<name>`. */
export function registerFetchCommand(program: Command, ctx: CommandContext): void {
  addTargetingOptions(program.command('fetch'))
    .description('copy a file from hosts into <dir>/<host>/<name>, each checked against the SHA-256 its host reported')
    .argument('<remote-path>', 'absolute path of the file on each host')
    .requiredOption(
      '--dest <dir>',
      "local directory; each host's copy goes to <dir>/<host>/<name> (created if missing)",
    )
    .option(
      '--max-size <size>',
      "largest file a host may send, e.g. 10MiB; a larger one fails that host unread (default and most: the controller's --max-file-size)",
      (text: string) => {
        try {
          return parseMaxSize(text);
        } catch (err) {
          throw new InvalidArgumentError(`${(err as Error).message}.`);
        }
      },
    )
    .option(
      '--timeout <duration>',
      'how long each host may take to read and send the file (default 60s)',
      duration(false),
    )
    .option(
      '--delivery-timeout <duration>',
      "how long the fetch may wait for a host's agent to take it; after that the host is undelivered (default 60s)",
      duration(false),
    )
    .option('--json', 'print JSON: {task, files: [{host, state, path, size, sha256, error}]}')
    .addHelpText(
      'after',
      `
Always waits for every host. A host's copy is written to a temporary file and renamed into place
only when its SHA-256 equals the one the host's agent computed and signed; a mismatch writes
nothing and that host counts as failed. See docs/files.md.
Exit status: 0 every host's file was written, 1 at least one host did not succeed (or its copy was
refused here), 2 usage error, 3 controller unreachable; the full table is in warren --help.${TARGETING_HELP}

Examples:
  warren fetch /var/log/syslog --dest ./logs --hosts web1 web2
  warren fetch /etc/os-release --dest /tmp/os --label role=db --max-size 1MiB --json`,
    )
    .action(async (remote: string, opts: FetchOptions) => {
      const client = ctx.client();
      const body = await settleTarget(ctx, client, buildGetRequest(remote, opts), opts);
      if (body === null) return;
      const accepted = await client.createTask(body);
      noteLeftOut(ctx, accepted);
      if (ctx.io.stderr.isTTY)
        ctx.io.stderr.write(
          `warren: task ${escapeControls(accepted.id)} fetches ${escapeControls(remote)} from ${accepted.hosts.length} host(s); waiting\n`,
        );
      const task = await waitForTask(client, accepted.id, ctx.poll);
      const name = posix.basename(remote);
      const files: FetchedFile[] = [];
      for (const r of [...task.results].sort((a, b) => a.host.localeCompare(b.host))) {
        if (r.state !== 'succeeded') {
          files.push({
            host: r.host,
            state: r.state,
            path: null,
            size: null,
            sha256: null,
            error: r.reason ?? r.state,
          });
          continue;
        }
        files.push(await fetchHostFile(client, task, r, opts.dest, name, ctx.incompleteRetryMs));
      }
      if (opts.json) printJson(ctx, { task, files });
      else ctx.io.stdout.write(renderFetch(task, files, ctx.now()));
      ctx.setExit(files.length > 0 && files.every((f) => f.path !== null) ? EXIT.OK : EXIT.NOT_ALL_SUCCEEDED);
    });
}
