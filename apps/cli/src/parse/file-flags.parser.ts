import { posix } from 'node:path';
import { BYTE_SIZE_FORMAT, parseByteSize } from '@warren/api';

/**
 * `--mode`: octal permission bits, `644` or `0644` (3 digits, an optional leading 0), sent as
 * `"0644"`. Setuid, setgid and sticky bits are refused: a copy should not make a file privileged.
 * Throws an Error saying what was expected.
 */
export function parseMode(text: string): string {
  const t = text.trim();
  if (!/^0?[0-7]{3}$/.test(t))
    throw new Error(`expected octal permission bits such as 644 or 0644, got ${JSON.stringify(text)}`);
  return `0${t.slice(-3)}`;
}

/** `--owner user[:group]`, split; the controller receives it as typed (`user` or `user:group`). */
export interface Owner {
  user: string;
  group: string | null;
}

const NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/;

/**
 * `--owner`: a user name and an optional group name after one `:` (`deploy`, `deploy:www-data`),
 * each a POSIX-portable account name (or a number). Throws an Error naming the bad part.
 */
export function parseOwner(text: string): Owner {
  const parts = text.split(':');
  if (parts.length > 2) throw new Error(`expected user or user:group, got ${JSON.stringify(text)}`);
  const [user, group] = parts;
  if (!NAME.test(user)) throw new Error(`${JSON.stringify(user)} is not a user name (expected user or user:group)`);
  if (group !== undefined && !NAME.test(group))
    throw new Error(`${JSON.stringify(group)} is not a group name (expected user or user:group)`);
  return { user, group: group ?? null };
}

/** `--max-size` of `warren fetch`: a byte size above 0 (`10MiB`). Throws an Error with the format. */
export function parseMaxSize(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes === null || bytes === 0) throw new Error(`expected a size above 0: ${BYTE_SIZE_FORMAT}`);
  return bytes;
}

/**
 * Where each local file goes on the hosts, like scp: with several files, or a `dest` ending in `/`,
 * `dest` is a directory and each file goes to `<dest>/<basename>`; otherwise the one file is
 * written at `dest` itself. `dest` must be absolute (the agent refuses anything else, and a relative
 * path has no meaning on a host the CLI is not on). Two files with the same basename into one
 * directory would overwrite each other: refused. Throws an Error saying why.
 */
export function destinations(files: string[], dest: string, basename: (file: string) => string): string[] {
  if (!dest.startsWith('/'))
    throw new Error(`--dest must be an absolute path on the hosts, got ${JSON.stringify(dest)}`);
  if (dest.split('/').includes('..')) throw new Error(`--dest must not contain "..": ${JSON.stringify(dest)}`);
  const intoDir = files.length > 1 || dest.endsWith('/');
  if (!intoDir) return [posix.normalize(dest)];
  const dir = posix.normalize(dest).replace(/\/+$/, '');
  const names = files.map(basename);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined)
    throw new Error(`two files are named ${JSON.stringify(twice)}: both would be written to ${dir}/${twice}`);
  return names.map((n) => `${dir}/${n}`);
}
