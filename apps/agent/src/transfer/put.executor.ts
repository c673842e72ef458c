import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { PutTransfer, ResultFile } from '@warren/protocol';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import type { AgentPolicy, PolicyGrant } from '../policy/policy.types';
import { FileReceiver, type Received } from './file.receiver';
import { describeFsError } from './fs.errors';
import {
  fileSafeId,
  fsyncDir,
  hashHandle,
  readyMessage,
  type TransferDeps,
  type TransferIds,
  transferHandle,
  transferOutcome,
} from './transfer.common';

/**
 * The temp file a put writes beside its destination: `.<basename>.warren-<invocationId>.tmp`
 * (the id through {@link fileSafeId}).
 */
export function putTempPath(dest: string, invocationId: string): string {
  return join(dirname(dest), `.${basename(dest)}.warren-${fileSafeId(invocationId)}.tmp`);
}

/** A put stopped before its rename: the state and reason it ends with. */
class PutStop extends Error {
  constructor(
    readonly state: 'failed' | 'cancelled',
    reason: string,
  ) {
    super(reason);
  }
}

/**
 * Writes a file a put carries at its destination, atomically (replacing the spawn of a command):
 * 0. a destination whose existing directories resolve, through symlinks, to a path `files.write`
 *    does not match fails before anything is touched (a symlink *at* the destination is replaced
 *    by the file, never followed), and so does one that is a directory, a device, a FIFO or a socket;
 * 1. a destination that already holds the manifest's content is left alone (only a mode, owner or
 *    group asked explicitly and different is applied): `succeeded`, `changed` false unless that
 *    metadata changed, and no `ready`, so no chunk is ever sent here;
 * 2. else (`mkdir`: missing parents made, 0755, owned by the file's owner) the temp file
 *    {@link putTempPath} is journaled, then created (0600, O_EXCL); the invocation registers for
 *    its chunks, sends `ready`, and a {@link FileReceiver} verifies and writes each one;
 * 3. through the temp file's descriptor (never its name): fsync, the whole file re-hashed against
 *    the manifest, chown (owner, group; by default the policy's user and its primary group), chmod
 *    (the asked mode, else the replaced file's, else 0644); then rename over the destination and
 *    fsync of the directory: `succeeded`, `changed` true.
 * Any failure (a chunk that does not match, no chunk for 30 s, the invocation's timeout, ENOSPC…)
 * or a cancel before the rename ends it `failed` (or `cancelled`) with the temp file unlinked and
 * the destination untouched.
 */
export function startPut(
  deps: TransferDeps,
  ids: TransferIds,
  t: PutTransfer,
  grant: PolicyGrant,
  policy: Pick<AgentPolicy, 'files'>,
): RunHandle {
  const startedAt = deps.clock.now();
  const deadline = startedAt + grant.timeoutMs;
  let cancelled: string | null = null;
  let receiver: FileReceiver | null = null;
  const stopIfCancelled = () => {
    if (cancelled !== null) throw new PutStop('cancelled', cancelled);
  };
  const run = async (): Promise<RunOutcome> => {
    const done = (file: ResultFile) => transferOutcome('succeeded', startedAt, deps.clock.now(), { file });
    const m = t.file;
    // The policy matched the path as named; a symlinked directory on the way (existing now, before
    // any mkdir) must not carry the file, or a new directory, where files.write does not reach.
    const real = await resolvedPath(t.dest);
    if (real !== t.dest && !policy.files.write.some((g) => g.test(real)))
      throw new PutStop('failed', `policy: ${t.dest} resolves to ${real}, and files.write allows no path matching it`);
    // Only a regular file or a symlink is replaced: a rename over a device or FIFO would swap the
    // node for a plain file (/dev/null), and one over a directory fails only once every byte is in.
    const at = await lstat(t.dest).catch(() => null);
    if (at?.isDirectory()) throw new PutStop('failed', `${t.dest} is a directory, not a file`);
    if (at && !at.isFile() && !at.isSymbolicLink())
      throw new PutStop('failed', `${t.dest} exists and is not a regular file (nor a symlink): it is not replaced`);
    const existing = at?.isFile() ? at : null;
    const same = existing && existing.size === m.size ? await openIfHolds(t.dest, m.sha256) : null;
    if (same) {
      let changed: boolean;
      try {
        changed = await fixMetadata(t, grant, same);
      } finally {
        await same.close().catch(() => undefined);
      }
      deps.log.info(
        { taskId: ids.taskId, correlationId: ids.invocationId, dest: t.dest, changed },
        'destination already holds the file',
      );
      return done({ sha256: m.sha256, size: m.size, changed });
    }
    const dir = dirname(t.dest);
    if (t.mkdir) await makeParents(dir, grant.uid, grant.gid);
    else if (!(await isDirectory(dir)))
      throw new PutStop('failed', `directory ${dir} does not exist (the put did not ask for mkdir)`);
    stopIfCancelled();
    const temp = putTempPath(t.dest, ids.invocationId);
    deps.journal.recordTemp(ids.invocationId, temp);
    let fh: FileHandle | null = null;
    try {
      fh = await createTemp(temp);
      if (m.chunks.length > 0) {
        const handle = fh;
        const writer = {
          write: async (b: Buffer, pos: number) => void (await handle.write(b, 0, b.length, pos)),
        };
        receiver = new FileReceiver({
          manifest: m,
          writer: deps.wrapWriter ? deps.wrapWriter(writer) : writer,
          idleMs: deps.idleMs,
          deadlineMs: Math.max(0, deadline - deps.clock.now()),
          describe: (err) => describeFsError(err, `writing ${t.dest}`),
        });
        const r = await receive(deps, ids, receiver, m.sha256, () => cancelled);
        if (!r.ok) throw new PutStop(r.state, r.reason);
      }
      await fh.sync();
      // Hashed and given its owner and mode through the descriptor, not the name: a temp file
      // renamed away and replaced by a symlink cannot turn the root agent's chown at another file.
      const written = await hashHandle(fh);
      if (written !== m.sha256)
        throw new PutStop('failed', `the written file hashes to ${written}, not the manifest's ${m.sha256}`);
      await fh.chown(grant.uid, grant.gid); // before chmod: a chown clears setuid/setgid bits
      await fh.chmod(t.mode ?? (existing ? existing.mode & 0o7777 : 0o644));
      await fh.close();
      fh = null;
      stopIfCancelled();
      await rename(temp, t.dest);
      await fsyncDir(dir);
      deps.log.info(
        { taskId: ids.taskId, correlationId: ids.invocationId, dest: t.dest, size: m.size },
        'file written',
      );
      return done({ sha256: m.sha256, size: m.size, changed: true });
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  };
  const outcome = run().catch((err: unknown) => {
    const [state, reason] =
      err instanceof PutStop
        ? [err.state, err.message]
        : ['failed' as const, describeFsError(err, `writing ${t.dest}`)];
    deps.log.warn({ taskId: ids.taskId, correlationId: ids.invocationId, dest: t.dest, state, reason }, 'put ended');
    return transferOutcome(state, startedAt, deps.clock.now(), { reason });
  });
  return transferHandle(startedAt, outcome, (reason) => {
    cancelled ??= reason;
    receiver?.abort('cancelled', reason);
  });
}

/**
 * Registers `receiver` for the chunks of (`taskId`, `sha256`), sends `ready`, and waits until it
 * has every chunk or fails; unregisters it whatever happens. Shared by put and stdin.
 */
export async function receive(
  deps: TransferDeps,
  ids: TransferIds,
  receiver: FileReceiver,
  sha256: string,
  cancelled: () => string | null,
): Promise<Received> {
  if (receiver.expectedChunks === 0) return receiver.done; // nothing to ask for
  const unregister = deps.chunks.register(ids.taskId, sha256, receiver);
  try {
    const c = cancelled();
    if (c !== null) receiver.abort('cancelled', c);
    else {
      const m = readyMessage(ids, sha256);
      void deps.replies.sendConfirmed(m, ids.replyTo).then((ok) => {
        if (!ok) receiver.abort('failed', 'the broker did not take its `ready` reply');
      });
    }
    return await receiver.done;
  } finally {
    unregister();
  }
}

/** Creates `temp` 0600 exclusively, for reading and writing; a leftover of the same invocation (it cannot be another's) is replaced. */
async function createTemp(temp: string): Promise<FileHandle> {
  try {
    return await open(temp, 'wx+', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    await unlink(temp);
    return open(temp, 'wx+', 0o600);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/**
 * `path` with its deepest existing ancestor directory resolved through symlinks (realpath), and
 * the rest (missing directories, the file name) appended as named.
 */
async function resolvedPath(path: string): Promise<string> {
  const rest: string[] = [basename(path)];
  for (let d = dirname(path); ; d = dirname(d)) {
    const real = await realpath(d).catch(() => null);
    if (real !== null) return join(real, ...rest);
    if (d === dirname(d)) return path;
    rest.unshift(basename(d));
  }
}

/** Creates the missing directories of `dir`, top down, each 0755 and owned by `uid`:`gid`. */
async function makeParents(dir: string, uid: number, gid: number): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; !(await isDirectory(d)); d = dirname(d)) {
    if (d === dirname(d)) break;
    missing.unshift(d);
  }
  for (const d of missing) {
    await mkdir(d, { mode: 0o755 });
    await chown(d, uid, gid);
    await chmod(d, 0o755); // the umask may have taken bits off
  }
  if (missing.length > 0) await fsyncDir(dirname(missing[0]));
}

/**
 * The destination opened (read-only, never through a symlink, never blocking on a FIFO) when it is
 * a regular file whose bytes hash to `sha256`; null otherwise. Its metadata is then fixed through
 * this descriptor: someone who swaps the path for a symlink after the hash cannot steer the chmod
 * or chown of a root agent to the link's target.
 */
async function openIfHolds(path: string, sha256: string): Promise<FileHandle | null> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
  if (!fh) return null;
  try {
    if ((await fh.stat()).isFile() && (await hashHandle(fh)) === sha256) return fh;
  } catch {
    // unreadable: not the same file
  }
  await fh.close().catch(() => undefined);
  return null;
}

/** For an unchanged destination (open as `fh`): applies a mode, owner or group the put names and the file lacks. */
async function fixMetadata(t: PutTransfer, grant: PolicyGrant, fh: FileHandle): Promise<boolean> {
  const s = await fh.stat();
  let changed = false;
  if ((t.owner !== null && s.uid !== grant.uid) || (t.group !== null && s.gid !== grant.gid)) {
    await fh.chown(grant.uid, grant.gid);
    changed = true;
  }
  if ((t.mode !== null && (s.mode & 0o7777) !== t.mode) || (changed && t.mode !== null)) {
    await fh.chmod(t.mode);
    changed = true;
  }
  return changed;
}
