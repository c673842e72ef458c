import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from './cli.errors';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from './cli.program.fixtures';
import { EXIT_INTERRUPTED } from './commands/interrupt';
import { EXIT, EXIT_STATUSES, exitStatusOf } from './exit-status.table';
import { ApiError, ControllerUnreachableError } from './http/http.errors';

const URL = 'http://ctl:7070';

describe('exitStatusOf', () => {
  it('maps usage errors, refusals (400) and unknown tasks (404) to 2, printing each API message', () => {
    expect(exitStatusOf(new UsageError('--hosts names no host'))).toEqual({
      code: 2,
      lines: ['--hosts names no host'],
    });
    expect(
      exitStatusOf(new ApiError(URL, 400, ['hosts should not be empty', 'timeoutMs must not be less than 1'])),
    ).toEqual({
      code: 2,
      lines: ['hosts should not be empty', 'timeoutMs must not be less than 1'],
    });
    expect(exitStatusOf(new ApiError(URL, 404, ['task t_x not found']))).toEqual({
      code: 2,
      lines: ['task t_x not found'],
    });
  });

  it('maps a 429 (this address failed to authenticate too often) to 3, a retry later, saying when', () => {
    expect(exitStatusOf(new ApiError(URL, 429, ['too many failed authentications'], true, 2))).toEqual({
      code: 3,
      lines: [
        `the controller at ${URL} refuses requests from this address for now (HTTP 429: too many failed authentications from it); retry in 2 s, and check the token`,
      ],
    });
  });

  it('maps an unreachable controller, and one answering 5xx, to 3, saying which', () => {
    expect(exitStatusOf(new ControllerUnreachableError(URL, 'connect ECONNREFUSED 10.0.0.1:7070'))).toEqual({
      code: 3,
      lines: [`cannot reach the controller at ${URL}: connect ECONNREFUSED 10.0.0.1:7070`],
    });
    expect(exitStatusOf(new ApiError(URL, 503, ['broker unavailable']))).toEqual({
      code: 3,
      lines: [`the controller at ${URL} is unavailable (HTTP 503): broker unavailable`],
    });
    expect(exitStatusOf(new ApiError(URL, 500, ['internal error'])).code).toBe(3);
  });

  it('lets help and version exit 0 and commander usage errors exit 2, without printing twice', () => {
    expect(exitStatusOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toEqual({
      code: 0,
      lines: [],
    });
    expect(exitStatusOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))).toEqual({
      code: 2,
      lines: [],
    });
  });

  it('treats anything else as a bug in warren, not as a host failure or a usage error', () => {
    const status = exitStatusOf(new TypeError('x is undefined'));
    expect(status.code).toBe(EXIT.INTERNAL);
    expect(status.code).not.toBe(EXIT.NOT_ALL_SUCCEEDED);
    expect(status.lines[0]).toMatch(/^internal error .*x is undefined/);
  });
});

describe('the exit-status table', () => {
  const flat = (text: string) => text.replace(/\s+/g, ' ');

  it('is what `warren --help` lists: every row, its number and its meaning (70 and 130 included)', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    const section = help.stdout.slice(help.stdout.indexOf('Exit status:'));
    expect(section).not.toBe('');
    for (const row of EXIT_STATUSES) {
      expect(section).toMatch(new RegExp(`^ {2}${row.code} +\\S`, 'm'));
      expect(flat(section)).toContain(flat(row.meaning));
    }
    expect(EXIT_STATUSES.map((r) => r.code)).toEqual(expect.arrayContaining([70, 130]));
  });

  it("is what the README's table lists, one row per status", () => {
    const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => /^\| \d+ \|/.test(l));
    expect(rows.map((l) => Number(l.split('|')[1]))).toEqual(EXIT_STATUSES.map((r) => r.code));
  });

  it('names the status Ctrl-C exits with as the table does', () => {
    expect(EXIT_INTERRUPTED).toBe(130);
    expect(EXIT).toMatchObject({ OK: 0, USAGE: 2, INTERNAL: 70, INTERRUPTED: 130 });
  });
});
