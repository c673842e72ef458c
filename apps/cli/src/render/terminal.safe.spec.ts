import type { AuditRecord } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { StreamPrinter } from '../commands/stream.printer';
import { renderStreamSummary } from '../commands/stream.follow';
import { renderAudit } from './audit.render';
import { renderHosts } from './hosts.render';
import { renderCollapsedTask } from './task.collapse';
import { hostView, result, T0, task } from './task.fixtures';
import { renderTask } from './task.render';
import { renderTasks } from './tasks.render';
import { escapeControls, forTerminal, jsonForTerminal } from './terminal.safe';

/** The input: `printf '\033]0;owned\007\033[31mred\033[0m\rX\n'` — retitles, recolours and rewrites the line. */
const HOSTILE = '\u001b]0;owned\u0007\u001b[31mred\u001b[0m\rX\n';
const SHOWN = '\\x1b]0;owned\\a\\x1b[31mred\\x1b[0m\\rX';
/** What a terminal would act on: C0 but \n and \t, DEL, C1, bidi overrides and isolates. */
const ACTIVE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const opts = { color: false, now: T0 + 5000 };

describe('escapeControls', () => {
  it('shows C0 (but newline and tab), DEL, C1 and bidi controls as visible escapes', () => {
    expect(escapeControls(HOSTILE)).toBe(`${SHOWN}\n`);
    expect(escapeControls('a\tb\nc')).toBe('a\tb\nc');
    expect(escapeControls('\u0000\u0001\u007f\u0085\u009b')).toBe('\\0\\x01\\x7f\\u0085\\u009b');
    expect(escapeControls('admin\u202e\u2066txt.exe\u2069')).toBe('admin\\u202e\\u2066txt.exe\\u2069');
    expect(escapeControls('grüße ｈ 日本 \\x1b')).toBe('grüße ｈ 日本 \\x1b');
  });

  it('escapes every string of a view, keys too, except the properties it is told to keep', () => {
    const v = forTerminal({ a: ['\r', { b: '\u001b' }], n: 1, z: null, stdout: '\r', ['k\r']: true }, ['stdout']);
    expect(v).toEqual({ a: ['\\r', { b: '\\x1b' }], n: 1, z: null, stdout: '\r', ['k\\r']: true });
  });
});

describe('human output of what hosts control', () => {
  const hostile = task([
    result('web1', { stdout: HOSTILE, stderr: 'first\rsecond\n' }),
    result('web2', { state: 'rejected', exitCode: null, reason: 'policy\u001b[2J: no', stdout: '' }),
  ]);

  it('--wait and check: output lines and reasons escaped, no control character reaches the terminal', () => {
    const text = renderTask(hostile, opts);
    expect(text).not.toMatch(ACTIVE);
    expect(text).toContain(`    ${SHOWN}\n`);
    expect(text).toContain('    ! first\\rsecond\n');
    expect(text).toContain('policy\\x1b[2J: no');
  });

  it('--raw passes the output through as it came, and still escapes the reasons', () => {
    const text = renderTask(hostile, { ...opts, raw: true });
    expect(text).toContain(`    ${HOSTILE.slice(0, -1)}\n`);
    expect(text).toContain('policy\\x1b[2J: no');
  });

  it('--collapse groups by the exact output and escapes it', () => {
    const same = task([result('web1', { stdout: HOSTILE }), result('web2', { stdout: HOSTILE })]);
    const text = renderCollapsedTask(same, opts);
    expect(text).not.toMatch(ACTIVE);
    expect(text).toContain(`==== web[1-2] (2) succeeded exit 0 ====\n    ${SHOWN}\n`);
    expect(renderCollapsedTask(same, { ...opts, raw: true })).toContain(HOSTILE.slice(0, -1));
  });

  it('--stream and --follow: the `host |` prefix stays visible before `first\\rsecond`', () => {
    const out: string[] = [];
    const printer = new StreamPrinter({ write: (s) => out.push(String(s)) > 0 }, false);
    printer.output({ host: 'web1', stream: 'stdout', offset: 0, data: 'first\rsecond\n' });
    printer.result({ host: 'web1', stdout: `first\rsecond\n${HOSTILE}`, stderr: '' });
    expect(out).toEqual(['web1 | first\\rsecond\n', `web1 | ${SHOWN}\n`]);
    const raw: string[] = [];
    new StreamPrinter({ write: (s) => raw.push(String(s)) > 0 }, false, true).result({
      host: 'web1',
      stdout: 'first\rsecond\n',
      stderr: '',
    });
    expect(raw).toEqual(['web1 | first\rsecond\n']);
    expect(renderStreamSummary(hostile, false, opts.now)).not.toMatch(ACTIVE);
  });

  it('hosts, tasks and audit: labels, version, commands and reasons escaped', () => {
    const hosts = renderHosts(
      [hostView('web1', { labels: { zone: 'eu\u001b]0;x\u0007' }, version: '1\u202e2' })],
      opts,
    );
    expect(hosts).not.toMatch(ACTIVE);
    expect(hosts).toContain('zone=eu\\x1b]0;x\\a');
    expect(hosts).toContain('1\\u202e2');
    const tasks = renderTasks([{ ...hostile, command: 'echo \u001b[31m' }], opts.now);
    expect(tasks).not.toMatch(ACTIVE);
    expect(tasks).toContain('echo \\x1b[31m');
    const record: AuditRecord = {
      id: 1,
      count: 1,
      at: new Date(T0).toISOString(),
      actor: 'ops',
      source: null,
      action: 'task.create',
      decision: 'denied',
      reason: 'no\u009b',
      taskId: null,
      hosts: ['web1'],
      command: 'printf "\u001b]0;owned\u0007"',
      cwd: null,
      envNames: [],
      runAs: null,
      invocationId: null,
      detail: null,
    };
    const audit = renderAudit([record]);
    expect(audit).not.toMatch(ACTIVE);
    expect(audit).toContain('printf "\\x1b]0;owned\\a"');
  });

  it('keeps each audit record on one line: a newline in a reason or actor draws no fake record', () => {
    const record: AuditRecord = {
      id: 1,
      count: 1,
      at: new Date(T0).toISOString(),
      actor: 'agent:web1',
      source: 'broker',
      action: 'agent.rejected',
      decision: 'denied',
      reason: 'policy\n2026-01-01 00:00:00Z  alice  10.0.0.1  task.create  allowed  db1  rm -rf /',
      taskId: null,
      hosts: ['web1'],
      command: null,
      cwd: null,
      envNames: [],
      runAs: null,
      invocationId: null,
      detail: null,
    };
    const lines = renderAudit([record, { ...record, id: 2, actor: 'x\ny' }])
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(3); // the header and one line per record
    expect(lines[1]).toContain('policy 2026-01-01');
  });
});

describe('jsonForTerminal', () => {
  it('writes DEL, C1 and bidi controls as \\u escapes, and the document parses to the same value', () => {
    const value = { command: 'a\u001b]52;c;eA==\u0007b\u009b2J\u007f\u202e\u2028', n: 1, ok: 'eu ünïcode' };
    const text = jsonForTerminal(value);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    expect(text).toContain('\\u009b');
    expect(JSON.parse(text)).toEqual(value);
  });
});
