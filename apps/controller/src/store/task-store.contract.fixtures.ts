import { afterEach, beforeEach } from 'vitest';
import type { AppliedChange, InvocationUpdate, TaskRecord, TaskStore } from './task-store.port';

/** One adapter opened for one test of the contract (see {@link describeTaskStoreContract}). */
export interface StoreUnderTest {
  /** a store on empty tables, whose `onApplied` pushes onto {@link heard} */
  store: TaskStore;
  /** every `onApplied` call of {@link store}, in order */
  heard: AppliedChange[][];
  /** Closes {@link store} and opens another on the same data (a controller restart). */
  reopen(): Promise<TaskStore>;
  /** Closes whatever is still open and removes the data. */
  dispose(): Promise<void>;
}

/** Opens an adapter on empty tables, once per test. */
export type OpenStore = () => Promise<StoreUnderTest>;

/**
 * Opens a store before each test (then runs `setup` on it) and disposes of it after. `ctx.store`
 * is the store under test (a `reopen()` through `ctx` replaces it).
 */
export function useStore(
  open: OpenStore,
  setup: (store: TaskStore) => Promise<void> = async () => {},
): { store: TaskStore; heard: AppliedChange[][]; reopen(): Promise<TaskStore> } {
  let opened: StoreUnderTest | undefined;
  const ctx = {
    store: undefined as unknown as TaskStore,
    heard: [] as AppliedChange[][],
    async reopen() {
      ctx.store = await opened!.reopen();
      return ctx.store;
    },
  };
  beforeEach(async () => {
    opened = await open();
    ctx.store = opened.store;
    ctx.heard = opened.heard;
    await setup(ctx.store);
  });
  afterEach(async () => {
    await opened?.dispose();
    opened = undefined;
  });
  return ctx;
}

/** A running task created at `createdAt` (ms). */
export function task(id: string, createdAt = 1_000, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    command: 'echo hi',
    cwd: null,
    env: { A: '1' },
    timeoutMs: 10_000,
    deliveryTimeoutMs: 5_000,
    killGraceMs: 1_000,
    state: 'running',
    createdAt,
    finishedAt: null,
    hostCount: 2,
    runAs: null,
    createdBy: 'alice',
    transfer: null,
    stdin: null,
    ...extra,
  };
}

/** A capture of UTF-8 text, as agents before exact capture sent it. */
export const capture = (data: string) => ({ data, bytes: Buffer.byteLength(data), truncated: false });

/** An agent's result for `invocationId` on `host`, started at 2,000 and finished at 3,000. */
export function result(
  invocationId: string,
  host: string,
  state: 'succeeded' | 'failed' | 'rejected' | 'cancelled',
  stdout = 'out',
): Extract<InvocationUpdate, { kind: 'result' }> {
  return {
    kind: 'result',
    invocationId,
    host,
    state,
    exitCode: state === 'succeeded' ? 0 : state === 'cancelled' ? null : 1,
    signal: null,
    stdout: capture(stdout),
    stderr: capture(''),
    startedAt: 2_000,
    finishedAt: 3_000,
    durationMs: 1_000,
    reason: null,
  };
}

/** An agent's `started` for `invocationId` on `host`, at 1,500 on its clock. */
export function started(invocationId: string, host: string, resultGraceMs = 500): InvocationUpdate {
  return { kind: 'started', invocationId, host, startedAt: 1_500, resultGraceMs };
}
