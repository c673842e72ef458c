import type { HostResult, TaskView } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { appendChunk, type StreamText, TaskModel } from './task-model';

const stream = (): StreamText => ({ text: '', bytes: 0 });

function result(host: string, state: HostResult['state'], stdout: string, exitCode: number | null = 0): HostResult {
  return {
    host,
    invocationId: `i-${host}`,
    state,
    exitCode,
    signal: null,
    stdout,
    stderr: '',
    stdoutBytes: Buffer.byteLength(stdout),
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutUtf8: true,
    stderrUtf8: true,
    reason: null,
    rejectCode: null,
    startedAt: null,
    finishedAt: null,
    durationMs: 5,
    file: null,
  };
}

function view(hosts: string[]): TaskView {
  return {
    id: 't_1',
    command: 'x',
    transfer: null,
    stdin: null,
    cwd: null,
    envNames: [],
    runAs: null,
    createdBy: 'e2e',
    state: 'running',
    timeoutMs: 1,
    deliveryTimeoutMs: 1,
    killGraceMs: 1,
    concurrency: null,
    maxErrors: null,
    rerunOf: null,
    live: true,
    createdAt: '2026-01-01T00:00:00Z',
    finishedAt: null,
    summary: { total: hosts.length, byState: { pending: hosts.length } },
    results: hosts.map((h) => result(h, 'pending', '', null)),
  };
}

describe('appendChunk', () => {
  it('appends chunks in byte order and adds nothing for a repeat after a resume', () => {
    const s = stream();
    expect(appendChunk(s, 0, 'line 1\n')).toBe(true);
    expect(appendChunk(s, 7, 'line 2\n')).toBe(true);
    expect(appendChunk(s, 0, 'line 1\n')).toBe(false);
    expect(appendChunk(s, 7, 'line 2\n')).toBe(false);
    expect(s).toEqual({ text: 'line 1\nline 2\n', bytes: 14 });
  });

  it('takes only the new bytes of an overlapping chunk, cutting by UTF-8 bytes', () => {
    const s = stream();
    appendChunk(s, 0, 'é');
    expect(appendChunk(s, 0, 'éà')).toBe(true);
    expect(s).toEqual({ text: 'éà', bytes: 4 });
  });

  it('leaves a chunk past a gap to the result, which carries the whole output', () => {
    const s = stream();
    appendChunk(s, 0, 'a');
    expect(appendChunk(s, 5, 'later')).toBe(false);
    expect(s.text).toBe('a');
  });
});

describe('TaskModel', () => {
  it('orders hosts naturally, counts them by state and folds identical outcomes', () => {
    const m = new TaskModel(view(['web10', 'web2', 'web1', 'db1']));
    expect(m.order).toEqual(['db1', 'web1', 'web2', 'web10']);
    m.applyStarted({ host: 'web1', invocationId: 'i-web1', startedAt: null });
    m.applyOutput({ host: 'web1', invocationId: 'i-web1', stream: 'stdout', seq: 0, offset: 0, data: 'live\n' });
    expect(m.rows.get('web1')).toMatchObject({ state: 'running', stdout: { text: 'live\n' } });
    for (const h of ['web1', 'web2', 'web10']) m.applyResult(result(h, 'succeeded', 'same\n'));
    m.applyResult(result('db1', 'failed', 'other\n', 2));
    // A late live chunk never overwrites the result.
    m.applyOutput({ host: 'web1', invocationId: 'i-web1', stream: 'stdout', seq: 1, offset: 5, data: 'late' });
    expect(m.rows.get('web1')!.stdout.text).toBe('same\n');
    expect([...m.byState()]).toEqual([
      ['failed', ['db1']],
      ['succeeded', ['web1', 'web2', 'web10']],
    ]);
    expect(m.groups().map((g) => [g.folded, g.state, g.exitCode])).toEqual([
      ['web[1-2,10]', 'succeeded', 0],
      ['db1', 'failed', 2],
    ]);
  });
});
