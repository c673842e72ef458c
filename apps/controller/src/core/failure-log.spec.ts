import { ManualClock } from '@warren/runtime';
import { beforeEach, describe, expect, it } from 'vitest';
import { capturedLogger, type LogLine } from '../../../../test/support/log-lines';
import { FAILURE_LOG_MS, FailureLog } from './failure-log';

describe('FailureLog', () => {
  let clock: ManualClock;
  let lines: LogLine[];
  let failures: FailureLog;

  beforeEach(() => {
    clock = new ManualClock();
    const captured = capturedLogger();
    lines = captured.lines;
    failures = new FailureLog(clock, captured.logger, { failed: 'it failed', resumed: 'it works again' });
  });

  it('logs the first failure at once, then one line per 30 s with the count since the last line', () => {
    expect(failures.failed(new Error('connection refused'), { host: 'web1' })).toBe(true);
    for (let ms = 250; ms < FAILURE_LOG_MS; ms += 250) {
      clock.set(Date.UTC(2026, 0, 1) + ms);
      expect(failures.failed(new Error('connection refused'))).toBe(false);
    }
    clock.set(Date.UTC(2026, 0, 1) + FAILURE_LOG_MS);
    expect(failures.failed('timeout')).toBe(true);
    clock.advance(FAILURE_LOG_MS - 1);
    expect(failures.failed('timeout')).toBe(false);
    expect(lines).toEqual([
      expect.objectContaining({ level: 50, msg: 'it failed', err: 'connection refused', failures: 1, host: 'web1' }),
      expect.objectContaining({ level: 50, msg: 'it failed', err: 'timeout', failures: 120 }),
    ]);
    expect(failures.failing).toBe(true);
  });

  it('logs one info line when it works again, with the failures in all and for how long, then nothing while it works', () => {
    failures.succeeded();
    failures.failed(new Error('down'));
    clock.advance(10_000);
    failures.failed(new Error('down'));
    clock.advance(5_000);
    failures.succeeded();
    failures.succeeded();
    expect(failures.failing).toBe(false);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: 30, msg: 'it works again', failures: 2, failingMs: 15_000 });
  });

  it('logs the first failure of a new outage at once, however soon after the last line', () => {
    failures.failed(new Error('down'));
    clock.advance(1_000);
    failures.succeeded();
    clock.advance(1_000);
    expect(failures.failed(new Error('down again'))).toBe(true);
    expect(lines.map((l) => [l.msg, l.failures])).toEqual([
      ['it failed', 1],
      ['it works again', 1],
      ['it failed', 1],
    ]);
  });
});
