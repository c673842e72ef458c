import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, open, readlink, realpath } from 'node:fs/promises';
import { FILE_CHUNK_BYTES, type GetTransfer } from '@warren/protocol';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import { normalisePath } from '../policy/path.glob';
import type { AgentPolicy, PolicyGrant } from '../policy/policy.types';
import { describeFsError } from './fs.errors';
import {
  fileChunkMessage,
  type TransferDeps,
  type TransferIds,
  transferHandle,
  transferOutcome,
} from './transfer.common';

/** `fileChunk` replies a get may have unconfirmed at once: at most 8 × 512 KiB in flight. */
export const GET_WINDOW = 8;

/** A get stopped: the state and reason it ends with. */
class GetStop extends Error {
  constructor(
    readonly state: 'failed' | 'cancelled',
    reason: string,
  ) {
    super(reason);
  }
}

/**
 * Sends back the file a get names (replacing the spawn of a command): opens it read-only and
 * non-blocking (a symlink the policy allowed by its own path is followed, but what it opens must
 * be a regular file by fstat: a directory, FIFO or device fails), refuses one larger than the cap
 * (the get's `maxBytes`, and the policy's `files.maxBytes`: "file is N bytes, over the cap of M"),
 * then reads it in 512 KiB chunks and publishes each as a signed `fileChunk` reply to
 * `transfer.chunkReplyTo`, with at most {@link GET_WINDOW} unconfirmed, hashing as it goes. Once
 * the broker confirmed them all: `succeeded` with `file` (SHA-256 and size of what was sent,
 * `changed` false). A file that shrinks while read, a chunk the broker does not take, the
 * invocation's timeout: `failed` with the reason; a cancel: `cancelled`.
 */
export function startGet(
  deps: TransferDeps,
  ids: TransferIds,
  t: GetTransfer,
  grant: PolicyGrant,
  policy: Pick<AgentPolicy, 'files'>,
): RunHandle {
  const startedAt = deps.clock.now();
  const deadline = startedAt + grant.timeoutMs;
  let cancelled: string | null = null;
  const check = () => {
    if (cancelled !== null) throw new GetStop('cancelled', cancelled);
    if (deps.clock.now() > deadline)
      throw new GetStop('failed', `${t.path} not sent within the invocation's timeout (${grant.timeoutMs} ms)`);
  };
  const run = async (): Promise<RunOutcome> => {
    let fh: FileHandle;
    try {
      fh = await open(t.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new GetStop('failed', describeFsError(err, `reading ${t.path}`));
    }
    try {
      // The policy matched the path as named; what was opened (through a symlink at the file or
      // on its way) must be a path files.read allows too, or a link planted in a readable
      // directory would send any file the agent can read.
      const real = await openedPath(fh, t.path);
      if (real !== normalisePath(t.path) && !policy.files.read.some((g) => g.test(real)))
        throw new GetStop('failed', `policy: ${t.path} resolves to ${real}, and files.read allows no path matching it`);
      const s = await fh.stat();
      if (s.isDirectory()) throw new GetStop('failed', `is a directory (EISDIR) reading ${t.path}`);
      if (!s.isFile()) throw new GetStop('failed', `${t.path} is not a regular file`);
      const cap = Math.min(t.maxBytes, policy.files.maxBytes);
      if (s.size > cap) throw new GetStop('failed', `file is ${s.size} bytes, over the cap of ${cap}`);
      const hash = createHash('sha256');
      const inFlight = new Set<Promise<boolean>>();
      let refused = false;
      let index = 0;
      for (let pos = 0; pos < s.size; pos += FILE_CHUNK_BYTES, index++) {
        check();
        const want = Math.min(FILE_CHUNK_BYTES, s.size - pos);
        const buf = Buffer.alloc(want);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
          if (bytesRead === 0) throw new GetStop('failed', `${t.path} shrank while it was read`);
          got += bytesRead;
        }
        hash.update(buf);
        const p = deps.replies.sendChunk(fileChunkMessage(ids, index, buf), t.chunkReplyTo).then((ok) => {
          if (!ok) refused = true;
          return ok;
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        while (inFlight.size >= GET_WINDOW) await Promise.race(inFlight);
        if (refused) throw new GetStop('failed', `chunk ${index} of ${t.path} was not taken by the broker`);
      }
      const all = await Promise.all(inFlight);
      if (refused || all.includes(false))
        throw new GetStop('failed', `a chunk of ${t.path} was not taken by the broker`);
      check();
      const file = { sha256: hash.digest('hex'), size: s.size, changed: false };
      deps.log.info(
        { taskId: ids.taskId, correlationId: ids.invocationId, path: t.path, size: s.size, chunks: index },
        'file sent',
      );
      return transferOutcome('succeeded', startedAt, deps.clock.now(), { file });
    } finally {
      await fh.close().catch(() => undefined);
    }
  };
  const outcome = run().catch((err: unknown) => {
    const [state, reason] =
      err instanceof GetStop
        ? [err.state, err.message]
        : ['failed' as const, describeFsError(err, `reading ${t.path}`)];
    deps.log.warn({ taskId: ids.taskId, correlationId: ids.invocationId, path: t.path, state, reason }, 'get ended');
    return transferOutcome(state, startedAt, deps.clock.now(), { reason });
  });
  return transferHandle(startedAt, outcome, (reason) => void (cancelled ??= reason));
}

/**
 * The absolute path of the file `fh` has open, every symlink resolved: the kernel's name for the
 * descriptor (`/proc/self/fd/<fd>`, so no link swapped in after the open can change it), else
 * (no /proc) `realpath` of `path`. Rejects with the errno error.
 */
async function openedPath(fh: FileHandle, path: string): Promise<string> {
  const named = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => null);
  return named !== null && named.startsWith('/') ? named : realpath(path);
}
