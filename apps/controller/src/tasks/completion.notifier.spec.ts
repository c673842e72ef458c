import { describe, expect, it } from 'vitest';
import { CompletionNotifier } from './completion.notifier';

describe('CompletionNotifier', () => {
  it('wakes every waiter of a task when it completes, and only those', async () => {
    const n = new CompletionNotifier();
    const a = n.wait('t1', 5_000);
    const b = n.wait('t1', 5_000);
    const other = n.wait('t2', 50);
    n.notify(['t1']);
    expect(await a).toBe(true);
    expect(await b).toBe(true);
    expect(await other).toBe(false);
    expect(n.waiting).toBe(0);
  });

  it('gives up at the timeout or when the client goes away', async () => {
    const n = new CompletionNotifier();
    expect(await n.wait('t1', 20)).toBe(false);
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
    const t0 = Date.now();
    expect(await n.wait('t2', 60_000)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(50);
  });
});
