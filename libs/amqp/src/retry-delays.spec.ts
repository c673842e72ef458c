import { describe, expect, it } from 'vitest';
import { RetryDelays } from './retry-delays';

describe('RetryDelays', () => {
  const backoff = { initialMs: 100, maxMs: 1_000 };

  it('follows the equal-jitter backoff from the first retry when connecting has never worked', () => {
    const d = new RetryDelays(backoff, () => 1);
    expect([1, 2, 3, 4, 5].map((a) => d.next(a))).toEqual([100, 200, 400, 800, 1_000]);
    expect(d.failedAttempts).toBe(5);
    expect(new RetryDelays(backoff, () => 0).next(3)).toBe(200);
  });

  it('retries at once after a live connection is lost, then backs off', () => {
    const d = new RetryDelays(backoff, () => 1);
    d.lost();
    expect(d.next(1)).toBe(0);
    expect(d.failedAttempts).toBe(0);
    expect([2, 3, 4].map((a) => d.next(a))).toEqual([100, 200, 400]);
    expect(d.failedAttempts).toBe(3);
  });

  it('starts over after a connect', () => {
    const d = new RetryDelays(backoff, () => 1);
    d.lost();
    d.next(1);
    d.reset();
    expect(d.failedAttempts).toBe(0);
    expect(d.next(1)).toBe(100);
  });
});
