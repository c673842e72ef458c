import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * A directory a secret file must not be written into: writable by its group or by others (who could
 * plant, replace or move files in it), or owned by a user other than this one and root. The
 * message names the directory and says what to do.
 */
export class UnsafeDirectoryError extends Error {
  override readonly name = 'UnsafeDirectoryError';
}

/**
 * Throws {@link UnsafeDirectoryError} unless `dir` is writable by its owner only and owned by
 * this process's user or root. No exception for sticky directories such as /tmp: a key goes in a
 * directory of its own.
 */
export function assertPrivateDirectory(dir: string): void {
  const st = statSync(dir);
  const uid = process.getuid?.() ?? st.uid;
  if ((st.mode & 0o022) !== 0)
    throw new UnsafeDirectoryError(
      `${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)}): refusing to write a secret there; use a directory only its owner can write (chmod go-w)`,
    );
  if (st.uid !== uid && st.uid !== 0)
    throw new UnsafeDirectoryError(
      `${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}) or root: refusing to write a secret there`,
    );
}

/**
 * Writes `body` to `path` atomically and durably with exactly `mode`: into a fresh file of a
 * random name beside it, created exclusively (`O_EXCL`: a file or symlink planted under any name
 * is never written through), `fchmod`ed before the first byte, fsynced, then renamed over `path`.
 * The directory must pass {@link assertPrivateDirectory}. Throws on any failure, leaving no
 * temporary file behind.
 */
export function writeFileAtomically(path: string, body: string | Buffer, mode: number): void {
  const dir = dirname(path);
  assertPrivateDirectory(dir);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode & 0o600);
  try {
    try {
      fchmodSync(fd, mode);
      writeFileSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}
