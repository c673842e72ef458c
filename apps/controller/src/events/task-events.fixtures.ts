import type { OutputMessage, StartedMessage } from '@warren/protocol';
import type { InvocationUpdate, TaskRecord } from '../store/task-store.port';

/** Messages and records of one running task `t1` (two hosts), for the specs of the live events. */
export const task = (id: string): TaskRecord => ({
  id,
  command: 'tick',
  cwd: null,
  env: {},
  timeoutMs: 60_000,
  deliveryTimeoutMs: 60_000,
  killGraceMs: 1_000,
  state: 'running',
  createdAt: 1_000,
  finishedAt: null,
  hostCount: 2,
  runAs: null,
  createdBy: 'alice',
});
export const started = (inv: string, host: string, taskId = 't1'): StartedMessage => ({
  v: 1,
  kind: 'started',
  invocationId: inv,
  taskId,
  host,
  startedAt: 2_000,
  pid: 42,
});
export const chunk = (
  inv: string,
  host: string,
  seq: number,
  offset: number,
  data: string,
  taskId = 't1',
): OutputMessage => ({
  v: 1,
  kind: 'output',
  invocationId: inv,
  taskId,
  host,
  stream: 'stdout',
  seq,
  offset,
  data,
});
export const result = (inv: string, host: string, stdout: string): InvocationUpdate => ({
  kind: 'result',
  invocationId: inv,
  host,
  state: 'succeeded',
  exitCode: 0,
  signal: null,
  stdout: { data: stdout, bytes: Buffer.byteLength(stdout), truncated: false },
  stderr: { data: '', bytes: 0, truncated: false },
  startedAt: 2_000,
  finishedAt: 3_000,
  durationMs: 1_000,
  reason: null,
});
