import { WARREN_VERSION } from '@warren/protocol';
import { Command } from 'commander';
import { UsageError } from './cli.errors';
import type { CliIo } from './cli.io';
import { registerAuditCommand } from './commands/audit.command';
import { registerCheckCommand } from './commands/check.command';
import { registerCpCommand } from './commands/cp.command';
import { registerFetchCommand } from './commands/fetch.command';
import type { CommandContext } from './commands/command.context';
import { LOCAL_COMMANDS, registerCompletionCommand } from './commands/completion.command';
import { registerCancelCommand } from './commands/cancel.command';
import { registerHostsCommand } from './commands/hosts.command';
import { type Confirmer, NO_PROMPT } from './commands/confirm.prompt';
import type { InterruptHub } from './commands/interrupt';
import { registerRerunCommand } from './commands/rerun.command';
import { registerRunCommand } from './commands/run.command';
import { registerShellCommand } from './commands/shell.command';
import { registerTasksCommand } from './commands/tasks.command';
import { DEFAULT_POLL, type PollTuning } from './commands/task.poller';
import { EXIT, EXIT_STATUS_HELP, exitStatusOf, TOKEN_HELP } from './exit-status.table';
import { readCaFile, resolveCaFile } from './http/ca.source';
import { ControllerClient, type FetchFn } from './http/controller.client';
import { resolveToken } from './http/token.source';
import { escapeControls } from './render/terminal.safe';

/** Where the controller is when neither `--url` nor `WARREN_URL` says. */
export const DEFAULT_URL = 'http://127.0.0.1:7070';

/** Knobs tests turn; the defaults are what users get. */
export interface CliTuning {
  poll: PollTuning;
  fetch?: FetchFn;
  /** ms since epoch */
  now(): number;
  /** who is asked before a large run (default: the terminal on stdin; inside `warren shell`, nobody) */
  confirm?: Confirmer;
  /** Ctrl-C while watching a task: cancel or detach (the real process only) */
  interrupts?: InterruptHub;
  /** ms `warren fetch` retries a download answered 409 "incomplete" (default 10 s) */
  incompleteRetryMs?: number;
}

/** `--url`, else `WARREN_URL`, else {@link DEFAULT_URL}; must be an http(s) URL. */
export function resolveControllerUrl(flag: string | undefined, env: CliIo['env']): string {
  const url = flag ?? (env.WARREN_URL || DEFAULT_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`controller URL ${JSON.stringify(url)} is not a URL (expected e.g. ${DEFAULT_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`controller URL ${JSON.stringify(url)} must start with http:// or https://`);
  return url;
}

/** The global options, as resolved before a command runs. */
interface CliState {
  url?: string;
  token?: string | null;
  /** `--ca` or `WARREN_CA`, and its PEM text */
  caFile?: string | null;
  ca?: Buffer;
}

const EXAMPLES = `
Examples:
  warren hosts
  warren run "uptime" --hosts web1 web2 --wait
  id=$(warren run "sleep 30; date" --hosts web1); warren check "$id" --wait
  warren --url http://controller:7070 tasks --limit 5
  warren cp motd.txt --dest /etc/motd --hosts web1 web2 --wait
  warren fetch /var/log/syslog --dest ./logs --hosts web1 web2
  warren run 'sha256sum' --stdin backup.tar --hosts web1 --wait
  warren shell
  source <(warren completion bash)     (zsh, fish: see warren completion --help)
`;

function buildProgram(ctx: CommandContext, state: CliState, tuning: Partial<CliTuning>): Command {
  const { io } = ctx;
  const program = new Command('warren')
    .description('Run shell commands on many hosts through a Warren controller (RPC over RabbitMQ instead of SSH).')
    .version(WARREN_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .option('--url <url>', `controller URL (env WARREN_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (else env WARREN_TOKEN, else the file ~/.warren/token)')
    .option('--ca <file>', "PEM CA certificate an https:// controller's certificate must chain to (env WARREN_CA)")
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // Commander's "error: …" becomes "warren: …", like every other diagnostic.
      outputError: (s, write) => write(escapeControls(s.replace(/^error: /, 'warren: '))),
      getOutHelpWidth: () => io.stdout.columns ?? 100,
      getErrHelpWidth: () => io.stderr.columns ?? 100,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', EXAMPLES + TOKEN_HELP + EXIT_STATUS_HELP)
    .hook('preAction', (_program, action) => {
      // `completion` prints a script and `__complete` resolves quietly on its own: no controller needed.
      if (action.parent === program && LOCAL_COMMANDS.has(action.name())) return;
      const opts = program.opts<{ url?: string; token?: string; ca?: string }>();
      state.url = resolveControllerUrl(opts.url, io.env);
      state.token = resolveToken(opts.token, io).token;
      state.caFile = resolveCaFile(opts.ca, io.env);
      state.ca = state.caFile === null ? undefined : readCaFile(state.caFile);
    });
  registerRunCommand(program, ctx);
  registerCpCommand(program, ctx);
  registerFetchCommand(program, ctx);
  registerRerunCommand(program, ctx);
  registerCheckCommand(program, ctx);
  registerHostsCommand(program, ctx);
  registerCancelCommand(program, ctx);
  registerTasksCommand(program, ctx);
  registerAuditCommand(program, ctx);
  registerShellCommand(
    program,
    ctx,
    (argv, lineIo, fetch, interrupts) =>
      runCli(
        [
          '--url',
          state.url ?? DEFAULT_URL,
          ...(state.token ? ['--token', state.token] : []),
          ...(state.caFile ? ['--ca', state.caFile] : []),
          ...argv,
        ],
        lineIo,
        {
          ...tuning,
          fetch,
          confirm: NO_PROMPT,
          interrupts,
        },
      ),
    tuning.fetch,
  );
  registerCompletionCommand(program, ctx, tuning.fetch);
  return program;
}

function contextFor(
  io: CliIo,
  state: CliState,
  tuning: Partial<CliTuning>,
  setExit: (code: number) => void,
): CommandContext {
  return {
    io,
    client: () => new ControllerClient(state.url ?? DEFAULT_URL, tuning.fetch, state.token ?? null, { ca: state.ca }),
    poll: tuning.poll ?? DEFAULT_POLL,
    now: tuning.now ?? Date.now,
    confirm: tuning.confirm,
    interrupts: tuning.interrupts,
    incompleteRetryMs: tuning.incompleteRetryMs,
    setExit,
  };
}

/** The commander program {@link runCli} parses, unparsed: for reading its command tree (completion tests). */
export function cliProgram(io: CliIo): Command {
  const state: CliState = {};
  return buildProgram(
    contextFor(io, state, {}, () => undefined),
    state,
    {},
  );
}

/**
 * Runs `warren` with `argv` (the arguments after the program name) and resolves to its exit
 * status; never calls `process.exit` and never throws. Results go to `io.stdout`, diagnostics to
 * `io.stderr`. Errors become exit statuses in one place: {@link exitStatusOf}.
 */
export async function runCli(argv: string[], io: CliIo, tuning: Partial<CliTuning> = {}): Promise<number> {
  const state: CliState = {};
  let code: number = EXIT.OK;
  const ctx = contextFor(io, state, tuning, (c) => void (code = c));
  try {
    await buildProgram(ctx, state, tuning).parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    const status = exitStatusOf(err);
    // A line may quote what the controller answered, or what was typed: shown as data.
    for (const line of status.lines) io.stderr.write(`warren: ${escapeControls(line)}\n`);
    return status.code;
  }
}
