import type { RunHandle } from '../exec/run.types';
import type { Waiting } from '../inbox/inbox.admission';
import type { AgentPolicy } from '../policy/policy.types';
import { startGet } from './get.executor';
import { startPut } from './put.executor';
import { startWithStdin } from './stdin.executor';
import type { TransferDeps, TransferIds } from './transfer.common';

/**
 * The file side of invocations (protocol 2), for the launcher: a put or a get runs here instead of
 * a spawn ({@link startPut}, {@link startGet}), and a command with `stdin` receives its file here
 * before it is spawned ({@link startWithStdin}).
 */
export class FileTransfers {
  constructor(
    private readonly deps: TransferDeps,
    private readonly policy: Pick<AgentPolicy, 'files'>,
  ) {}

  /** Starts the put or get of `w` (its command has a `transfer`). */
  transfer(w: Waiting): RunHandle {
    const c = w.command;
    const t = c.transfer!;
    const ids = idsOf(w);
    this.deps.log.info(
      {
        taskId: c.taskId,
        correlationId: c.invocationId,
        op: t.op,
        path: t.op === 'put' ? t.dest : t.path,
        size: t.op === 'put' ? t.file.size : undefined,
        timeoutMs: w.grant.timeoutMs,
      },
      'transfer started',
    );
    return t.op === 'put'
      ? startPut(this.deps, ids, t, w.grant, this.policy)
      : startGet(this.deps, ids, t, w.grant, this.policy);
  }

  /** Receives the stdin file of `w` (its command has `stdin`), then runs `spawn` with it. */
  withStdin(w: Waiting, spawn: (stdinPath: string) => RunHandle): RunHandle {
    return startWithStdin(this.deps, idsOf(w), w.command.stdin!, w.grant.timeoutMs, spawn);
  }
}

function idsOf(w: Waiting): TransferIds {
  const c = w.command;
  return { invocationId: c.invocationId, taskId: c.taskId, host: c.host, replyTo: w.replyTo };
}
