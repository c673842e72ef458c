import { describe, expect, it } from 'vitest';
import { LimitSpecError, nextRollingStep, resolveLimit } from './rolling.policy';

const progress = (p: Partial<Parameters<typeof nextRollingStep>[0]>) => ({
  total: 6,
  unsent: 4,
  inFlight: 2,
  failed: 0,
  concurrency: 2,
  maxErrors: null,
  ...p,
});

describe('resolveLimit', () => {
  it('takes counts as they are and percentages of the resolved hosts', () => {
    expect(resolveLimit(3, 100, 'concurrency')).toBe(3);
    expect(resolveLimit('3', 100, 'concurrency')).toBe(3);
    expect(resolveLimit('25%', 100, 'concurrency')).toBe(25);
    expect(resolveLimit('0', 100, 'maxErrors')).toBe(0);
  });

  it('rounds a concurrency share up and never to zero, an error budget share down', () => {
    expect(resolveLimit('10%', 5, 'concurrency')).toBe(1);
    expect(resolveLimit('30%', 10, 'concurrency')).toBe(3);
    expect(resolveLimit('34%', 10, 'concurrency')).toBe(4);
    expect(resolveLimit('10%', 15, 'maxErrors')).toBe(1);
    expect(resolveLimit('10%', 9, 'maxErrors')).toBe(0);
    expect(resolveLimit('100%', 7, 'maxErrors')).toBe(7);
  });

  it.each([
    [0, 'concurrency', /at least 1/],
    [-1, 'maxErrors', /at least 0/],
    [1.5, 'concurrency', /whole number/],
    ['0%', 'concurrency', /above 0/],
    ['101%', 'maxErrors', /at most 100%/],
    ['ten', 'concurrency', /whole number or a percentage/],
    ['5 %x', 'maxErrors', /whole number or a percentage/],
  ] as const)('refuses %j as %s', (spec, kind, re) => {
    expect(() => resolveLimit(spec, 10, kind)).toThrow(LimitSpecError);
    expect(() => resolveLimit(spec, 10, kind)).toThrow(re);
  });
});

describe('nextRollingStep', () => {
  it('fills the free slots and no more', () => {
    expect(nextRollingStep(progress({ inFlight: 2 }))).toEqual({ send: 0 });
    expect(nextRollingStep(progress({ inFlight: 1 }))).toEqual({ send: 1 });
    expect(nextRollingStep(progress({ inFlight: 0, concurrency: 3 }))).toEqual({ send: 3 });
    expect(nextRollingStep(progress({ inFlight: 0, concurrency: 10, unsent: 4 }))).toEqual({ send: 4 });
    expect(nextRollingStep(progress({ concurrency: null, inFlight: 0 }))).toEqual({ send: 4 });
  });

  it('keeps going while failures are within the budget, and skips the rest once more than it failed', () => {
    expect(nextRollingStep(progress({ inFlight: 1, failed: 1, maxErrors: 1 }))).toEqual({ send: 1 });
    const step = nextRollingStep(progress({ unsent: 2, inFlight: 1, failed: 2, maxErrors: 1 }));
    expect(step.send).toBe(0);
    expect(step.skipReason).toBe('error budget exhausted: 2 of 4 sent did not succeed (at most 1 allowed); never sent');
    expect(nextRollingStep(progress({ inFlight: 0, failed: 1, maxErrors: 0 })).skipReason).toMatch(
      /error budget exhausted: 1 of 2/,
    );
  });

  it('does nothing once every host was sent', () => {
    expect(nextRollingStep(progress({ unsent: 0, inFlight: 0, failed: 5, maxErrors: 0 }))).toEqual({ send: 0 });
  });
});
