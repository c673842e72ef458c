import { describe, expect, it } from 'vitest';
import { LimitSpecError, parseLimit, resolveLimit } from './limit.rule';

describe('parseLimit', () => {
  it('reads counts as numbers or digit strings, and shares as percentages', () => {
    expect(parseLimit(3, 'concurrency')).toEqual({ count: 3 });
    expect(parseLimit('3', 'concurrency')).toEqual({ count: 3 });
    expect(parseLimit(' 2 ', 'concurrency')).toEqual({ count: 2 });
    expect(parseLimit(0, 'maxErrors')).toEqual({ count: 0 });
    expect(parseLimit('0', 'maxErrors')).toEqual({ count: 0 });
    expect(parseLimit(' 25% ', 'concurrency')).toEqual({ percent: 25 });
    expect(parseLimit('12.5%', 'maxErrors')).toEqual({ percent: 12.5 });
    expect(parseLimit('0%', 'maxErrors')).toEqual({ percent: 0 });
    expect(parseLimit(1_000_000, 'concurrency')).toEqual({ count: 1_000_000 });
  });

  it.each([
    [0, 'concurrency', /^concurrency must be a whole number of at least 1 or a percentage like "25%", got 0$/],
    ['0', 'concurrency', /at least 1/],
    [-1, 'maxErrors', /at least 0/],
    ['-1', 'maxErrors', /^maxErrors must be a whole number of at least 0 or a percentage like "25%", got "-1"$/],
    [1.5, 'concurrency', /whole number/],
    [1_000_001, 'maxErrors', /^maxErrors must be at most 1000000, got 1000001$/],
    ['0%', 'concurrency', /^concurrency as a percentage must be above 0% and at most 100%, got "0%"$/],
    ['101%', 'maxErrors', /^maxErrors as a percentage must be at least 0% and at most 100%, got "101%"$/],
    ['ten', 'concurrency', /whole number of at least 1 or a percentage/],
    ['5 %', 'concurrency', /percentage/],
    ['5 %x', 'maxErrors', /got "5 %x"/],
    [true, 'concurrency', /got true/],
    [null, 'concurrency', /got null/],
  ] as const)('refuses %j as %s, naming it', (value, kind, re) => {
    expect(() => parseLimit(value, kind)).toThrow(LimitSpecError);
    expect(() => parseLimit(value, kind)).toThrow(re);
  });

  it('names the field as the caller calls it', () => {
    expect(() => parseLimit('two', 'maxErrors', '--max-errors')).toThrow(/^--max-errors must be .*got "two"$/);
  });
});

describe('resolveLimit', () => {
  it('reads a count as given and a percentage as a share of the hosts', () => {
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
});
