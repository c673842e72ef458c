import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './duration.rule';

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1.5', 1500],
    ['0.5m', 30_000],
    ['45', 45_000],
    [' 2s ', 2000],
    ['5 s', 5000],
    ['250 ms', 250],
    ['0.5ms', 1],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['0', '0s', '0ms', '0.0m', '00'])('reads %j as 0: the field decides whether no time makes sense', (text) => {
    expect(parseDurationMs(text)).toBe(0);
  });

  it.each([
    '',
    's',
    '5x',
    '-5s',
    '-1',
    '5 sec',
    '5 minutes',
    '1e3',
    '5s5',
    '0.0001ms',
    '0.4ms',
    'abc',
    '1d',
    '5S',
    '.5s',
  ])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });

  it('refuses a duration past the largest safe integer of ms', () => {
    expect(parseDurationMs('9007199254740992ms')).toBeNull();
    expect(parseDurationMs('9007199254740991ms')).toBe(Number.MAX_SAFE_INTEGER);
  });
});
