import { describe, expect, it } from 'vitest';
import { collectLabels } from './labels.parser';

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
