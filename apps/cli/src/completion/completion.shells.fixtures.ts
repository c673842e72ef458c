import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cliProgram } from '../cli.program';
import { type CompletionShell, completionScript } from './completion.scripts';
import { sq } from './completion.shell';
import { completionTree } from './completion.tree';

/** A scratch directory with a stand-in `warren` on a PATH of its own. */
export const dir = mkdtempSync(join(tmpdir(), 'warren-completion-'));
/** where the stand-in `warren` writes the arguments it was called with */
export const ARGS_FILE = join(dir, 'args');
const STUB = join(dir, 'bin', 'warren');
mkdirSync(join(dir, 'bin'));
// What `warren __complete` prints: the real one is tested against a controller elsewhere.
writeFileSync(
  STUB,
  `#!/bin/sh
printf '%s\\n' "$*" > ${sq(ARGS_FILE)}
case $2 in
  hosts) printf 'web1\\nweb2\\ndb1\\n' ;;
  tasks) printf 't_aaa\\nt_abc\\n' ;;
esac
`,
);
chmodSync(STUB, 0o755);
const ENV = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir };

/** The real program, as `warren` builds it. */
export const program = (): Command =>
  cliProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {} });

/** Writes the script `shell` gets for `prog` to a file; returns its path. */
export function scriptFile(shell: CompletionShell, prog: Command = program()): string {
  const file = join(dir, `warren.${shell}`);
  writeFileSync(file, completionScript(shell, completionTree(prog)));
  return file;
}

/** Runs `code` in `shell` (bash without rc files, zsh -f, fish without config); throws on a non-zero exit. */
export function run(shell: CompletionShell, code: string): string {
  const args =
    shell === 'bash'
      ? ['--norc', '--noprofile', '-c', code]
      : shell === 'zsh'
        ? ['-f', '-c', code]
        : ['--no-config', '-c', code];
  // Bounded: a shell that blocks would block the whole worker, test timeouts included.
  const r = spawnSync(shell, args, { encoding: 'utf8', env: ENV, cwd: dir, timeout: 60_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`${shell} exited ${r.status ?? r.signal}: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/** Whether `shell -n` (fish: `fish -n`) reads `file` without a syntax error; the error text otherwise. */
export function syntaxError(shell: CompletionShell, file: string): string {
  const r = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
  return r.status === 0 ? '' : r.stderr || `exit ${r.status}`;
}

const lines = (out: string) => out.split('\n').filter((l) => l !== '');

/**
 * What bash's `_warren` puts in COMPREPLY for `line` (the last word is the one being completed),
 * sorted. COMP_LINE is the words joined by spaces; COMP_WORDS is `line`, or `split` when given:
 * bash splits at `:` and `=` too, as readline would hand them over.
 */
export function bashCompletes(line: string[], file = scriptFile('bash'), split = line): string[] {
  const text = line.join(' ');
  return lines(
    run(
      'bash',
      `source ${sq(file)}; COMP_WORDS=(${split.map(sq).join(' ')}); COMP_CWORD=${split.length - 1}
COMP_LINE=${sq(text)}; COMP_POINT=${text.length}; _warren; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ),
  ).sort();
}

/**
 * What zsh's `_warren` offers for `line`: `compadd` is replaced by a function printing the
 * candidates that start with the word being completed (what compsys would show), `_describe` by
 * one passing the names before the first `:` to it, `_files` by a marker.
 */
export function zshCompletes(line: string[], file = scriptFile('zsh')): string[] {
  const words = line.map(sq).join(' ');
  return lines(
    run(
      'zsh',
      `compdef() { :; }
compadd() { shift; local c; for c; do [[ $c == "\${words[CURRENT]}"* ]] && print -r -- $c; done; return 0; }
_describe() { local -a a; a=("\${(@P)\${@[-1]}}"); compadd -- "\${(@)a%%:*}"; }
_files() { print -r -- "(files$*)"; }
source ${sq(file)}; words=(${words}); CURRENT=${line.length}; _warren`,
    ),
  ).sort();
}

/** What fish offers for the command line `line` (`complete -C`), names only, sorted. */
export function fishCompletes(line: string, file = scriptFile('fish')): string[] {
  return lines(run('fish', `source ${sq(file)}; complete -C ${sq(line)}`))
    .map((l) => l.split('\t')[0])
    .sort();
}

/** The arguments the stand-in `warren` was last called with, as one line. */
export const lastArgs = () => readFileSync(ARGS_FILE, 'utf8').trim();
