import { describe, expect, it } from 'vitest';
import { allSucceeded, renderTask } from './task.render';
import { iso, result, T0, task } from './task.fixtures';

const mixed = task([
  result('web1', { stdout: 'hello\n\nworld\n', stdoutBytes: 13, durationMs: 12 }),
  result('web2', {
    state: 'failed',
    exitCode: 3,
    stderr: 'boom\nno newline at end',
    stderrBytes: 26,
    durationMs: 1500,
  }),
  result('web3', {
    state: 'timed_out',
    exitCode: null,
    signal: 'SIGTERM',
    stdout: 'tick\n',
    stdoutBytes: 5,
    durationMs: 2003,
    reason: 'timed out',
  }),
  result('web4', {
    stdout: `${'a'.repeat(1023)}\n`,
    stdoutBytes: 50 * 1024 * 1024,
    stdoutTruncated: true,
    durationMs: 40,
  }),
  result('nope1', { state: 'unknown_host', exitCode: null, startedAt: null, durationMs: null }),
  result('db1', { state: 'failed', exitCode: null, signal: 'SIGSEGV', durationMs: 7 }),
]);

describe('renderTask', () => {
  const text = renderTask(mixed, { color: false, now: T0 + 5000 });
  const lines = text.split('\n');

  it('prints one aligned header per host, in natural order, with exit code and duration, or what happened instead', () => {
    expect(lines.filter((l) => /^\S/.test(l)).slice(0, 6)).toEqual([
      'db1    failed        signal SIGSEGV  7 ms',
      'nope1  unknown_host  no agent queue for this host',
      'web1   succeeded     exit 0          12 ms',
      'web2   failed        exit 3          1.5 s',
      'web3   timed_out     signal SIGTERM  killed after 2 s timeout',
      'web4   succeeded     exit 0          40 ms',
    ]);
  });

  it('orders hosts as a person reads them (web1, web2, web10), whatever order the controller sent', () => {
    const out = renderTask(task(['web10', 'web2', 'web1'].map((h) => result(h))), { color: false, now: T0 });
    expect(
      out
        .split('\n')
        .filter((l) => /^web/.test(l))
        .map((l) => l.split(' ')[0]),
    ).toEqual(['web1', 'web2', 'web10']);
  });

  it('indents stdout under its host, marks stderr with "!", and keeps blank lines without trailing blanks', () => {
    const web1 = lines.indexOf('web1   succeeded     exit 0          12 ms');
    expect(lines.slice(web1 + 1, web1 + 4)).toEqual(['    hello', '', '    world']);
    const web2 = lines.findIndex((l) => l.startsWith('web2'));
    expect(lines.slice(web2 + 1, web2 + 3)).toEqual(['    ! boom', '    ! no newline at end']);
    expect(lines[lines.findIndex((l) => l.startsWith('web3')) + 1]).toBe('    tick');
  });

  it('says how much of a truncated stream is shown', () => {
    const web4 = lines.findIndex((l) => l.startsWith('web4'));
    expect(lines[web4 + 1]).toBe(`    ${'a'.repeat(1023)}`);
    expect(lines[web4 + 2]).toBe('    [stdout truncated: 1.0 KiB of 50.0 MiB shown]');
  });

  it('ends with counts by state, success first, then the hosts of each other state by name, folded', () => {
    expect(
      text.endsWith(
        [
          '',
          '6 hosts: 2 succeeded, 2 failed, 1 timed_out, 1 unknown_host  (task t_abc, 1.2 s)',
          'failed (2): db1,web2',
          'timed_out (1): web3',
          'unknown_host (1): nope1',
          '',
        ].join('\n'),
      ),
    ).toBe(true);
  });

  it('shows hosts still pending or running as such, and how long the task has been running', () => {
    const running = task(
      [
        result('a', {}),
        result('b', { state: 'running', exitCode: null, startedAt: iso(1000), finishedAt: null, durationMs: null }),
        result('c', { state: 'pending', exitCode: null, startedAt: null, finishedAt: null, durationMs: null }),
      ],
      { state: 'running', finishedAt: null },
    );
    const out = renderTask(running, { color: false, now: T0 + 4000 }).split('\n');
    expect(out).toContain('b  running    running for 3.0 s');
    expect(out).toContain('c  pending    waiting for its agent to take it');
    expect(out).toContain('3 hosts: 1 succeeded, 1 pending, 1 running  (task t_abc, running for 4.0 s)');
    expect(out).toContain('pending (1): c');
    expect(out).toContain('running (1): b');
  });

  it('colors states only when asked to', () => {
    expect(text).not.toContain('\x1b[');
    const colored = renderTask(mixed, { color: true, now: T0 });
    expect(colored).toContain('\x1b[32msucceeded');
    expect(colored).toContain('\x1b[31mfailed');
    expect(colored).toContain('\x1b[33mtimed_out');
    // padding stays outside the width computation: hosts still line up
    expect(colored.split('\n')[0].replace(/\x1b\[\d+m/g, '')).toBe('db1    failed        signal SIGSEGV  7 ms');
  });

  it('folds the hosts of a state in the summary, however many there are', () => {
    const many = task([
      ...Array.from({ length: 40 }, (_, i) =>
        result(`web${String(i + 1).padStart(2, '0')}`, {
          state: i === 2 || i === 6 ? 'failed' : 'succeeded',
          exitCode: i === 2 || i === 6 ? 1 : 0,
        }),
      ),
      result('db1', { state: 'timed_out', exitCode: null }),
    ]);
    const out = renderTask(many, { color: false, now: T0 }).split('\n');
    expect(out).toContain('failed (2): web[03,07]');
    expect(out).toContain('timed_out (1): db1');
    expect(out.filter((l) => l.startsWith('succeeded'))).toEqual([]);
  });
});

describe('allSucceeded', () => {
  it('is true only when every host succeeded', () => {
    expect(allSucceeded(task([result('a', {}), result('b', {})]))).toBe(true);
    expect(allSucceeded(mixed)).toBe(false);
    expect(allSucceeded(task([result('a', {}), result('b', { state: 'undelivered', exitCode: null })]))).toBe(false);
  });
});
