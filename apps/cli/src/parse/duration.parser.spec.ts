import { describe, expect, it } from 'vitest';
import { parseDurationMs, parseDurationOrZeroMs } from './duration.parser';

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.5m', 30_000],
    ['45', 45_000],
    [' 2s ', 2000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', 's', '5x', '-5s', '5 sec', '1e3', '5s5', '0', '0s', '0.0001ms', 'abc', '1d'])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });

  it('allows zero only where asked to (a kill grace of 0 means SIGKILL at once)', () => {
    expect(parseDurationOrZeroMs('0')).toBe(0);
    expect(parseDurationOrZeroMs('0s')).toBe(0);
    expect(parseDurationOrZeroMs('250ms')).toBe(250);
    expect(parseDurationOrZeroMs('-1')).toBeNull();
    expect(parseDurationOrZeroMs('soon')).toBeNull();
  });
});
