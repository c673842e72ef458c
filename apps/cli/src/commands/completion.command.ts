import { Argument, type Command } from 'commander';
import type { CliIo } from '../cli.io';
import { completionScript, COMPLETION_SHELLS, type CompletionShell } from '../completion/completion.scripts';
import { completionTree } from '../completion/completion.tree';
import { EXIT } from '../exit-status.table';
import { readCaFile, resolveCaFile } from '../http/ca.source';
import { ControllerClient, type FetchFn } from '../http/controller.client';
import { nodeHttpFetch } from '../http/node-http.fetch';
import { resolveToken } from '../http/token.source';
import type { CommandContext } from './command.context';

/** ms; `warren __complete` gives up on the controller after this, so a Tab never hangs the prompt */
export const COMPLETE_TIMEOUT_MS = 1_500;

/** The top-level commands that never talk to the controller: the global options are not resolved for them. */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set(['completion', '__complete']);

/** What `__complete` prints: names a shell can take as one word without expanding anything in it. */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const INSTALL_HELP = `
Install:
  bash  add to ~/.bashrc:               source <(warren completion bash)
  zsh   add to ~/.zshrc after compinit: source <(warren completion zsh)
  fish  once:                           warren completion fish > ~/.config/fish/completions/warren.fish
Regenerate after upgrading warren. Host names (--hosts, --host, hosts accept|reject) and task ids
(check, cancel, rerun, audit --task) are asked of the controller with a ${COMPLETE_TIMEOUT_MS / 1000} s timeout, using the
--url, --token and --ca typed on the line or their usual sources; nothing is shown when it cannot answer.`;

/** The global options among the words typed so far: `--url X` or `--url=X`, the last one winning. */
export function typedGlobals(words: string[]): { url?: string; token?: string; ca?: string } {
  const found: Record<string, string> = {};
  words.forEach((w, i) => {
    const m = /^--(url|token|ca)(?:=(.*))?$/.exec(w);
    const value = m ? (m[2] ?? words[i + 1]) : undefined;
    if (m && value !== undefined) found[m[1]] = value;
  });
  return found;
}

/** A fetch that gives up after {@link COMPLETE_TIMEOUT_MS}, whatever the call's own budget. */
function hurried(fetch: FetchFn): FetchFn {
  return (url, init) => {
    const late = AbortSignal.timeout(COMPLETE_TIMEOUT_MS);
    return fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, late]) : late });
  };
}

/**
 * The names the controller knows of `kind` (`hosts`: every host it lists; `tasks`: the 50 newest
 * task ids), with the global options typed in `words`; an empty list when it cannot be asked or
 * does not answer (no token, a bad URL, a refusal, a timeout): completion must stay quiet.
 */
export async function namesFor(kind: string, words: string[], io: CliIo, fetch?: FetchFn): Promise<string[]> {
  if (kind !== 'hosts' && kind !== 'tasks') return [];
  const silent: CliIo = { ...io, stderr: { write: () => true } };
  try {
    const typed = typedGlobals(words);
    const url = typed.url ?? (io.env.WARREN_URL || 'http://127.0.0.1:7070');
    const { token } = resolveToken(typed.token, silent);
    if (token === null) return [];
    const caFile = resolveCaFile(typed.ca, io.env);
    const ca = caFile === null ? undefined : readCaFile(caFile);
    const client = new ControllerClient(url, hurried(fetch ?? nodeHttpFetch), token, { ca });
    const names =
      kind === 'hosts'
        ? (await client.listHosts()).hosts.map((h) => h.host)
        : (await client.listTasks(50)).tasks.map((t) => t.id);
    return names.filter((n) => typeof n === 'string' && PLAIN_NAME.test(n));
  } catch {
    return [];
  }
}

/**
 * `warren completion bash|zsh|fish` prints the completion script read off the program's own
 * command tree; the hidden `warren __complete hosts|tasks -- WORDS…` is what the scripts call.
 */
export function registerCompletionCommand(program: Command, ctx: CommandContext, fetch?: FetchFn): void {
  program
    .command('completion')
    .description('print a shell completion script for commands, flags, host names and task ids')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(COMPLETION_SHELLS))
    .addHelpText('after', INSTALL_HELP)
    .action((shell: CompletionShell) => {
      ctx.io.stdout.write(completionScript(shell, completionTree(program)));
      ctx.setExit(EXIT.OK);
    });
  program
    .command('__complete', { hidden: true })
    .argument('<kind>')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (kind: string, words: string[]) => {
      const names = await namesFor(kind, words, ctx.io, fetch);
      if (names.length > 0) ctx.io.stdout.write(`${names.join('\n')}\n`);
      ctx.setExit(EXIT.OK);
    });
}
