import { describe, expect, it } from 'vitest';
import { LoopDelay } from './loop.delay';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LoopDelay', () => {
  it('reads zeros before any sample', () => {
    expect(new LoopDelay().summary()).toEqual({ p50: 0, p99: 0, max: 0 });
  });

  it('reports how late the loop ran, in ms with 2 decimals: a 30 ms block shows in max, not in p50', async () => {
    const d = new LoopDelay();
    d.running(1);
    await sleep(50);
    const until = performance.now() + 30;
    while (performance.now() < until); // blocks the loop, as a slow spawn() does
    await sleep(50);
    d.stop();
    const s = d.summary();
    expect(s.max).toBeGreaterThanOrEqual(25);
    expect(s.p50).toBeLessThan(5);
    for (const v of Object.values(s)) expect(Math.round(v * 100) / 100).toBe(v);
  });

  it('samples only while commands run: a block while none runs is not counted, and none after stop', async () => {
    const d = new LoopDelay();
    const block = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until); // holds the loop
    };
    d.running(1);
    await sleep(30);
    d.running(0);
    await sleep(5);
    block(60); // idle: no timer runs, so nothing measures this
    await sleep(200); // nor this pause, when sampling starts again
    d.running(2);
    await sleep(20);
    const resumed = d.summary();
    expect(resumed.max).toBeLessThan(150); // the 260 ms away from sampling is not a sample
    block(60);
    await sleep(20);
    d.stop();
    expect(d.summary().max).toBeGreaterThanOrEqual(50);
    d.running(1); // after stop: ignored
    await sleep(5);
    block(120);
    await sleep(5);
    expect(d.summary().max).toBeLessThan(110);
  });
});
