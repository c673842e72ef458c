import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CompletionNotifier } from './completion.notifier';

// Timers are fake: a wait that ends only when time is advanced proves that it ended at its timeout, to the ms.
beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** Whether `p` has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

describe('CompletionNotifier', () => {
  it('wakes every waiter of a task when it completes, and only those', async () => {
    const n = new CompletionNotifier();
    const a = n.wait('t1', 5_000);
    const b = n.wait('t1', 5_000);
    const other = n.wait('t2', 50);
    n.notify(['t1']);
    expect(await a).toBe(true);
    expect(await b).toBe(true);
    expect(await settled(other)).toBe(false);
    vi.advanceTimersByTime(50);
    expect(await other).toBe(false);
    expect(n.waiting).toBe(0);
  });

  it('gives up exactly at the timeout, or when the client goes away', async () => {
    const n = new CompletionNotifier();
    const timed = n.wait('t1', 20);
    vi.advanceTimersByTime(19);
    expect(await settled(timed)).toBe(false);
    vi.advanceTimersByTime(1);
    expect(await timed).toBe(false);
    const ac = new AbortController();
    const p = n.wait('t1', 5_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(n.waiting).toBe(0);
  });
});

describe('CompletionNotifier on shutdown', () => {
  it('releases every held request at once, and later waits return immediately', async () => {
    const n = new CompletionNotifier();
    const held = n.wait('t1', 60_000);
    n.onModuleDestroy();
    expect(await held).toBe(false);
    // No timer is advanced: the wait answers without one.
    expect(await n.wait('t2', 60_000)).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
