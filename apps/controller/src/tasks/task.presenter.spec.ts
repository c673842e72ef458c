import type { HostResult } from '@warren/api';
import { describe, expect, it } from 'vitest';
import type { InvocationRecord } from '../store/task-store.port';
import { presentInvocation } from './task.presenter';

const record = (over: Partial<InvocationRecord>): InvocationRecord => ({
  id: 'i1',
  taskId: 't1',
  host: 'h1',
  state: 'succeeded',
  exitCode: 0,
  signal: null,
  stdout: 'a\uFFFDb',
  stderr: '',
  stdoutBytes: 3,
  stderrBytes: 0,
  stdoutTruncated: false,
  stderrTruncated: false,
  stdoutUtf8: false,
  stderrUtf8: true,
  reason: null,
  rejectCode: null,
  startedAt: 1_000,
  finishedAt: 2_000,
  durationMs: 1_000,
  sentAt: 500,
  ...over,
});

describe('presentInvocation', () => {
  it('says whether each stream is UTF-8, so replacement characters in the text are never mistaken for output', () => {
    const shown: HostResult = presentInvocation(record({}));
    expect(shown).toMatchObject({ stdout: 'a\uFFFDb', stdoutUtf8: false, stderrUtf8: true });
  });

  it('says null, not true, when the agent predates exact capture', () => {
    expect(presentInvocation(record({ stdoutUtf8: null, stderrUtf8: null }))).toMatchObject({
      stdoutUtf8: null,
      stderrUtf8: null,
    });
  });
});
