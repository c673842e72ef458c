import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Interface } from 'node:readline';
import { writeFileAtomically } from '@warren/protocol';
import type { CliIo, OutStream } from '../cli.io';
import { escapeControls } from '../render/terminal.safe';

/** lines kept in the history file */
export const HISTORY_SIZE = 1000;

/** `~/.warren/shell_history`, or `WARREN_SHELL_HISTORY`; an empty `WARREN_SHELL_HISTORY` keeps none. */
export function historyPath(env: CliIo['env']): string | null {
  if (env.WARREN_SHELL_HISTORY !== undefined) return env.WARREN_SHELL_HISTORY || null;
  return join(env.HOME || homedir(), '.warren', 'shell_history');
}

/** The history in `file`, newest first as readline wants it; none when there is no file or it cannot be read. */
export function loadHistory(file: string | null): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-HISTORY_SIZE)
      .reverse();
  } catch {
    return [];
  }
}

/**
 * Writes `rl`'s history to `file` (oldest first, mode 0600, its folder made 0700) each time it
 * changes, through a fresh exclusively created temporary file renamed over it (a file or symlink
 * planted by another user is never written through; a folder others can write is refused; see
 * `writeFileAtomically`). A file that cannot be written is said once on `stderr`; the shell goes on
 * without it.
 */
export function keepHistory(rl: Interface, file: string, stderr: OutStream): void {
  let warned = false;
  rl.on('history', (lines: string[]) => {
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileAtomically(file, [...lines].reverse().join('\n') + '\n', 0o600);
    } catch (err) {
      if (!warned)
        stderr.write(`warren: ${escapeControls(`cannot keep the history in ${file}: ${(err as Error).message}`)}\n`);
      warned = true;
    }
  });
}
