import { describe, expect, it } from 'vitest';
import type { InvocationRecord, TaskRecord } from '../store/task-store.port';
import { presentTask } from './task.presenter';

function invocation(host: string): InvocationRecord {
  return {
    id: `i-${host}`,
    taskId: 't_1',
    host,
    state: 'succeeded',
    exitCode: 0,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutUtf8: true,
    stderrUtf8: true,
    reason: null,
    rejectCode: null,
    startedAt: 1,
    finishedAt: 2,
    durationMs: 1,
    sentAt: 0,
  };
}

const task = {
  id: 't_1',
  command: 'true',
  cwd: null,
  env: {},
  runAs: null,
  createdBy: null,
  state: 'completed',
  timeoutMs: 1000,
  deliveryTimeoutMs: 1000,
  killGraceMs: 0,
  createdAt: 0,
  finishedAt: 2,
  hostCount: 4,
} as unknown as TaskRecord;

describe('presentTask', () => {
  it('lists results by host in natural order, as folded lists read (web1, web2, web10), whatever the order given', () => {
    const view = presentTask(task, ['web10', 'web2', 'db1', 'web1'].map(invocation));
    expect(view.results.map((r) => r.host)).toEqual(['db1', 'web1', 'web2', 'web10']);
  });
});
