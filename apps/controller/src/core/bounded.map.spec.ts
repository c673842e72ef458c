import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { BoundedMap } from './bounded.map';

describe('BoundedMap', () => {
  it('never holds more than maxEntries, whatever a flood of new keys', () => {
    const clock = new ManualClock();
    const m = new BoundedMap<string, number>(clock, { maxEntries: 1000, ttlMs: 3_600_000 });
    let most = 0;
    for (let i = 0; i < 100_000; i++) most = Math.max(most, m.set(`fake${i}`, i).size);
    expect(most).toBe(1000);
    // The most recently set survive.
    expect(m.get('fake99999')).toBe(99_999);
    expect(m.get('fake0')).toBeUndefined();
  });

  it('forgets an entry not set again within the TTL, and keeps one set again', () => {
    const clock = new ManualClock();
    const m = new BoundedMap<string, number>(clock, { maxEntries: 10, ttlMs: 60_000 });
    m.set('old', 1);
    m.set('live', 1);
    clock.advance(59_999);
    m.set('live', 2);
    expect(m.get('old')).toBe(1);
    clock.advance(1);
    expect(m.get('old')).toBeUndefined();
    expect([...m.values()]).toEqual([2]);
    // Swept, not only hidden: the map shrinks without anyone reading the key.
    for (let i = 0; i < 5; i++) m.set(`k${i}`, i);
    clock.advance(60_000);
    m.set('new', 0);
    expect(m.size).toBe(1);
  });

  it('evicts and expires kept entries last: a flood cannot push out what `keep` protects', () => {
    const clock = new ManualClock();
    const accepted = new Set(['web1', 'web2']);
    const m = new BoundedMap<string, string>(clock, {
      maxEntries: 100,
      ttlMs: 60_000,
      keep: (k) => accepted.has(k),
    });
    m.set('web1', 'a');
    m.set('web2', 'b');
    for (let i = 0; i < 10_000; i++) m.set(`fake${i}`, 'x');
    expect(m.size).toBeLessThanOrEqual(100);
    expect(m.get('web1')).toBe('a');
    clock.advance(3_600_000);
    m.set('fresh', 'y');
    expect([...m.values()].sort()).toEqual(['a', 'b', 'y']);
    expect(m.size).toBe(3);
  });
});
