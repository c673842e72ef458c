import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileManifest } from '@warren/protocol';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import { FileReceiver } from './file.receiver';
import { describeFsError } from './fs.errors';
import { receive } from './put.executor';
import {
  fileSafeId,
  hashFile,
  type TransferDeps,
  type TransferIds,
  transferHandle,
  transferOutcome,
} from './transfer.common';

/** Where a stdin is received: `<stateDir>/stdin` (0700); each file is named by its invocation id ({@link fileSafeId}, 0600). */
export function stdinDir(stateDir: string): string {
  return join(stateDir, 'stdin');
}

/**
 * Runs a command whose standard input is a file the controller sends (`stdin`): receives it like a
 * put (journaled temp path, `ready`, every chunk verified against the manifest) into
 * `<stateDir>/stdin/<invocationId>`, checks its whole hash, then `spawn`s the command with it as
 * fd 0 (opened read-only by the agent, so the run-as user needs no access to the file), and unlinks
 * it when the run ends. The outcome is the command's, plus `file` (`changed` false). A stdin that
 * cannot be received fails the invocation before anything runs (`failed`, or `cancelled` by a
 * cancel), with the file unlinked.
 */
export function startWithStdin(
  deps: TransferDeps,
  ids: TransferIds,
  manifest: FileManifest,
  timeoutMs: number,
  spawn: (stdinPath: string) => RunHandle,
): RunHandle {
  const startedAt = deps.clock.now();
  let cancelled: string | null = null;
  let receiver: FileReceiver | null = null;
  let run: RunHandle | null = null;
  const path = join(stdinDir(deps.stateDir), fileSafeId(ids.invocationId));
  const notRun = (state: 'failed' | 'cancelled', reason: string): RunOutcome => {
    deps.log.warn({ taskId: ids.taskId, correlationId: ids.invocationId, state, reason }, 'stdin not received');
    return { ...transferOutcome(state, startedAt, deps.clock.now(), { reason }), startedAt: null, durationMs: null };
  };
  const go = async (): Promise<RunOutcome> => {
    let fh: FileHandle | null = null;
    try {
      await mkdir(stdinDir(deps.stateDir), { recursive: true, mode: 0o700 });
      deps.journal.recordTemp(ids.invocationId, path);
      fh = await open(path, 'w', 0o600);
      const handle = fh;
      const writer = { write: async (b: Buffer, pos: number) => void (await handle.write(b, 0, b.length, pos)) };
      receiver = new FileReceiver({
        manifest,
        writer: deps.wrapWriter ? deps.wrapWriter(writer) : writer,
        idleMs: deps.idleMs,
        deadlineMs: timeoutMs,
        describe: (err) => describeFsError(err, `writing the stdin file ${path}`),
      });
      const r = await receive(deps, ids, receiver, manifest.sha256, () => cancelled);
      await fh.close();
      fh = null;
      if (!r.ok) return notRun(r.state, r.reason);
      const written = await hashFile(path);
      if (written !== manifest.sha256)
        return notRun('failed', `the stdin file hashes to ${written}, not the manifest's ${manifest.sha256}`);
      if (cancelled !== null) return notRun('cancelled', `${cancelled} before it started`);
      run = spawn(path);
      const o = await run.outcome;
      return { ...o, file: { sha256: manifest.sha256, size: manifest.size, changed: false } };
    } catch (err) {
      return notRun('failed', describeFsError(err, `writing the stdin file ${path}`));
    } finally {
      await fh?.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
    }
  };
  const outcome = go();
  return {
    ...transferHandle(startedAt, outcome, (reason) => {
      cancelled ??= reason;
      receiver?.abort('cancelled', reason);
      run?.cancel(reason);
    }),
    startedAt: null,
  };
}
