import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 5_000 };

  it('doubles the window each attempt up to the cap', () => {
    expect(backoffDelay(0, opts, () => 1)).toBe(100);
    expect(backoffDelay(3, opts, () => 1)).toBe(800);
    expect(backoffDelay(30, opts, () => 1)).toBe(5_000);
  });

  it('never waits less than half the window, so nobody retries in a tight loop', () => {
    expect(backoffDelay(3, opts, () => 0)).toBe(400);
  });

  it('spreads a fleet over the window', () => {
    const delays = new Set(Array.from({ length: 200 }, () => backoffDelay(5, opts)));
    expect(delays.size).toBeGreaterThan(50);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(1_600);
  });
});
