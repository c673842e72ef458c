import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../cli.errors';
import type { CliIo } from '../cli.io';

/** Where the token file is, relative to the home directory. */
export const TOKEN_FILE = '.warren/token';

/** The API token to send, and where it came from (for messages; never the token itself). */
export interface TokenChoice {
  token: string | null;
  /** `--token`, `WARREN_TOKEN`, the file's path, or null when there is none */
  source: string | null;
}

/** The file system calls the token lookup makes; injectable for tests. */
export interface TokenFiles {
  read(path: string): string | null;
  /** permission bits, or null when the file does not exist */
  mode(path: string): number | null;
}

const realFiles: TokenFiles = {
  read: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new UsageError(`cannot read the token file ${path}: ${(err as Error).message}`);
    }
  },
  mode: (path) => {
    try {
      return statSync(path).mode & 0o777;
    } catch {
      return null;
    }
  },
};

function checked(token: string, source: string): TokenChoice {
  const t = token.trim();
  if (t === '') throw new UsageError(`the token from ${source} is empty`);
  if (/\s/.test(t))
    throw new UsageError(`the token from ${source} contains white space; it should be one word like wrn_…`);
  return { token: t, source };
}

/**
 * The token: `--token`, else `WARREN_TOKEN`, else the first line of `$HOME/.warren/token` when that
 * file exists. Warns (once, on stderr) when the file is readable by group or others: a token is a
 * password.
 */
export function resolveToken(flag: string | undefined, io: CliIo, files: TokenFiles = realFiles): TokenChoice {
  if (flag !== undefined) return checked(flag, '--token');
  if (io.env.WARREN_TOKEN) return checked(io.env.WARREN_TOKEN, 'WARREN_TOKEN');
  if (!io.env.HOME) return { token: null, source: null };
  const path = join(io.env.HOME, TOKEN_FILE);
  const text = files.read(path);
  if (text === null) return { token: null, source: null };
  const mode = files.mode(path);
  if (mode !== null && (mode & 0o077) !== 0) {
    io.stderr.write(
      `warren: warning: ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); protect it with: chmod 600 ${path}\n`,
    );
  }
  return checked(text.split('\n')[0] ?? '', path);
}
