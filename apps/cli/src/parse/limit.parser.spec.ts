import { describe, expect, it } from 'vitest';
import { parseLimitFlag } from './limit.parser';

describe('parseLimitFlag', () => {
  it('sends counts as numbers and shares as percentage strings', () => {
    expect(parseLimitFlag('2', 'concurrency')).toBe(2);
    expect(parseLimitFlag('0', 'maxErrors')).toBe(0);
    expect(parseLimitFlag(' 25% ', 'concurrency')).toBe('25%');
    expect(parseLimitFlag('12.5%', 'maxErrors')).toBe('12.5%');
  });

  it.each([
    ['0', 'concurrency', /^--concurrency must be a whole number of at least 1/],
    ['0%', 'concurrency', /above 0/],
    ['101%', 'maxErrors', /^--max-errors as a percentage .* at most 100%/],
    ['-1', 'maxErrors', /whole number of at least 0 or a percentage/],
    ['two', 'concurrency', /got "two"/],
    ['5 %', 'concurrency', /percentage/],
  ] as const)('refuses %j for %s, naming the flag', (text, kind, re) => {
    expect(() => parseLimitFlag(text, kind)).toThrow(re);
  });
});
