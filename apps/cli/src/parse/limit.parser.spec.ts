import { describe, expect, it } from 'vitest';
import { collectLabels } from './labels.parser';
import { parseLimit } from './limit.parser';

describe('parseLimit', () => {
  it('reads counts as numbers and shares as percentages', () => {
    expect(parseLimit('2', 'concurrency')).toBe(2);
    expect(parseLimit('0', 'max-errors')).toBe(0);
    expect(parseLimit(' 25% ', 'concurrency')).toBe('25%');
    expect(parseLimit('12.5%', 'max-errors')).toBe('12.5%');
  });

  it.each([
    ['0', 'concurrency', /at least 1/],
    ['0%', 'concurrency', /above 0/],
    ['101%', 'max-errors', /at most 100%/],
    ['-1', 'max-errors', /whole number \(5\) or a percentage/],
    ['two', 'concurrency', /got "two"/],
    ['5 %', 'concurrency', /percentage/],
  ] as const)('refuses %j for --%s', (text, kind, re) => {
    expect(() => parseLimit(text, kind)).toThrow(re);
  });
});

describe('collectLabels', () => {
  it('collects repeated and comma-separated pairs, all of which must hold', () => {
    expect(collectLabels('zone=eu', collectLabels('role=web', undefined))).toEqual(['role=web', 'zone=eu']);
    expect(collectLabels('role=web, zone=eu,role=web', undefined)).toEqual(['role=web', 'zone=eu']);
    expect(collectLabels('k8s.io/tier=', undefined)).toEqual(['k8s.io/tier=']);
  });

  it('refuses a pair without = or a key given two values', () => {
    expect(() => collectLabels('zone', undefined)).toThrow(/label "zone" must be key=value/);
    expect(() => collectLabels('zone=us', ['zone=eu'])).toThrow(/zone is given twice \(eu, us\)/);
    expect(() => collectLabels('=x', undefined)).toThrow(/label "=x" must be key=value/);
    expect(() => collectLabels(',', undefined)).toThrow(/expected key=value/);
  });
});
