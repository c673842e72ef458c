import { describe, expect, it } from 'vitest';
import { nextRollingStep } from './rolling.policy';

const progress = (p: Partial<Parameters<typeof nextRollingStep>[0]>) => ({
  total: 6,
  unsent: 4,
  inFlight: 2,
  failed: 0,
  concurrency: 2,
  maxErrors: null,
  ...p,
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
