import { describe, expect, it } from 'vitest';
import { collapsedTaskJson, groupResults, renderCollapsedTask } from './task.collapse';
import { result, T0, task, webHosts } from './task.fixtures';

const KERNEL = '6.1.0-18-amd64\n';

/** 40 web hosts print the same kernel; web03 and web07 cannot read a file; db1 times out; nope1 has no agent. */
const fleet = task([
  ...webHosts(40).map((h) =>
    h === 'web03' || h === 'web07'
      ? result(h, {
          state: 'failed',
          exitCode: 2,
          stderr: 'uname: cannot open /proc: Permission denied\n',
          durationMs: 30,
        })
      : result(h, { stdout: KERNEL, durationMs: 12 }),
  ),
  result('db1', { state: 'timed_out', exitCode: null, signal: 'SIGTERM', stdout: 'tick\n', durationMs: 2003 }),
  result('nope1', {
    state: 'unknown_host',
    exitCode: null,
    startedAt: null,
    durationMs: null,
    reason: 'no agent has ever registered host nope1 on this broker (NO_ROUTE)',
  }),
  result('nope2', {
    state: 'unknown_host',
    exitCode: null,
    startedAt: null,
    durationMs: null,
    reason: 'no agent has ever registered host nope2 on this broker (NO_ROUTE)',
  }),
]);

describe('groupResults', () => {
  const groups = groupResults(fleet.results);

  it('puts hosts with the same state, exit code and output in one group, with their names folded', () => {
    expect(groups.map((g) => [g.folded, g.count, g.state, g.exitCode])).toEqual([
      ['web[01-02,04-06,08-40]', 38, 'succeeded', 0],
      ['web[03,07]', 2, 'failed', 2],
      ['db1', 1, 'timed_out', null],
      ['nope[1-2]', 2, 'unknown_host', null],
    ]);
    expect(groups[0].hosts).toHaveLength(38);
    expect(groups[0].stdout).toBe(KERNEL);
    expect(groups[1].stderr).toBe('uname: cannot open /proc: Permission denied\n');
  });

  it('keeps hosts apart when any of stdout, stderr, exit code or state differs', () => {
    const g = groupResults([
      result('a1', { stdout: 'x\n' }),
      result('a2', { stdout: 'x\n' }),
      result('a3', { stdout: 'y\n' }),
      result('a4', { stdout: 'x\n', stderr: 'warn\n' }),
      result('a5', { stdout: 'x\n', exitCode: 1, state: 'failed' }),
      result('a6', { stdout: 'x\n', exitCode: 3, state: 'failed' }),
      result('a7', { stdout: 'x\n', stdoutTruncated: true, stdoutBytes: 5000 }),
    ]);
    expect(g.map((x) => x.folded)).toEqual(['a[1-2]', 'a3', 'a4', 'a7', 'a5', 'a6']);
  });

  it('never folds hosts whose output is not text: equal replacement characters do not prove equal bytes', () => {
    const binary = { stdout: 'a\uFFFDb', stdoutBytes: 3, stdoutUtf8: false };
    const g = groupResults([result('b1', binary), result('b2', binary), result('b3', { stdoutUtf8: null })]);
    expect(g.map((x) => x.folded)).toEqual(['b1', 'b2', 'b3']);
  });

  it('orders states as the summary does, and the biggest group first within a state', () => {
    const g = groupResults([
      result('f1', { state: 'failed', exitCode: 1 }),
      result('s1', { stdout: 'a' }),
      result('s2', { stdout: 'b' }),
      result('s3', { stdout: 'b' }),
      result('f2', { state: 'failed', exitCode: 9 }),
      result('f3', { state: 'failed', exitCode: 9 }),
    ]);
    expect(g.map((x) => x.folded)).toEqual(['s[2-3]', 's1', 'f[2-3]', 'f1']);
  });

  it('groups reasons that differ only by the host they name, and says <host> there', () => {
    expect(groups[3].reason).toBe('no agent has ever registered host <host> on this broker (NO_ROUTE)');
    const other = groupResults([
      result('a', { state: 'error', exitCode: null, reason: 'cwd /srv/a: no such directory' }),
      result('b', { state: 'error', exitCode: null, reason: 'cwd /srv/a: no such directory' }),
      result('c', { state: 'error', exitCode: null, reason: 'spawn failed: EAGAIN' }),
    ]);
    // a and b said the very same thing: one group, the reason as it is
    expect(other.map((x) => [x.folded, x.reason])).toEqual([
      ['a,b', 'cwd /srv/a: no such directory'],
      ['c', 'spawn failed: EAGAIN'],
    ]);
  });
});

describe('renderCollapsedTask', () => {
  const text = renderCollapsedTask(fleet, { color: false, now: T0 + 5000 });

  it('prints each group once under a header with its folded hosts and count, then the summary', () => {
    expect(text).toBe(
      [
        '==== web[01-02,04-06,08-40] (38) succeeded exit 0 ====',
        '    6.1.0-18-amd64',
        '==== web[03,07] (2) failed exit 2 ====',
        '    ! uname: cannot open /proc: Permission denied',
        '==== db1 (1) timed_out signal SIGTERM  killed after 2 s timeout ====',
        '    tick',
        '==== nope[1-2] (2) unknown_host no agent has ever registered host <host> on this broker (NO_ROUTE) ====',
        '',
        '43 hosts: 38 succeeded, 2 failed, 1 timed_out, 2 unknown_host  (task t_abc, 1.2 s)',
        'failed (2): web[03,07]',
        'timed_out (1): db1',
        'unknown_host (2): nope[1-2]',
        '',
      ].join('\n'),
    );
  });

  it("shows a single host's own duration and reason", () => {
    const one = renderCollapsedTask(
      task([
        result('web1', { stdout: 'ok\n', durationMs: 12 }),
        result('web2', { stdout: 'other\n', durationMs: 1500 }),
      ]),
      { color: false, now: T0 },
    );
    expect(one).toContain('==== web1 (1) succeeded exit 0  12 ms ====');
    expect(one).toContain('==== web2 (1) succeeded exit 0  1.5 s ====');
  });

  it('colors the state only when asked to', () => {
    expect(text).not.toContain('\x1b[');
    expect(renderCollapsedTask(fleet, { color: true, now: T0 })).toContain(
      '==== web[03,07] (2) \x1b[31mfailed\x1b[0m exit 2 ====',
    );
  });
});

describe('collapsedTaskJson', () => {
  it('gives the task with groups in place of per-host results', () => {
    const json = collapsedTaskJson(fleet);
    expect(json).not.toHaveProperty('results');
    expect(json).toMatchObject({ id: 't_abc', state: 'completed', summary: { total: 43 } });
    expect(json.groups[1]).toEqual({
      hosts: ['web03', 'web07'],
      folded: 'web[03,07]',
      count: 2,
      state: 'failed',
      exitCode: 2,
      signal: null,
      stdout: '',
      stderr: 'uname: cannot open /proc: Permission denied\n',
      stdoutBytes: 0,
      stderrBytes: 44,
      stdoutTruncated: false,
      stderrTruncated: false,
      reason: null,
    });
  });
});
