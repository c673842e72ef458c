import { describe, expect, it } from 'vitest';
import { LabelError, labelSet, normalizeLabels, parseLabelList, parseLabelPair } from './labels.rule';

describe('label rules', () => {
  it('parses k=v lists, allowing = inside values, empty values and prefixed keys; empty text is none', () => {
    expect(parseLabelList('')).toEqual({});
    expect(parseLabelList(' , ')).toEqual({});
    expect(parseLabelList('a=1, k8s.io/zone=x=y,empty=')).toEqual({ a: '1', 'k8s.io/zone': 'x=y', empty: '' });
  });

  it('counts a pair given twice once and refuses a key given two values', () => {
    expect(parseLabelList('role=web,role=web')).toEqual({ role: 'web' });
    expect(() => parseLabelList('zone=eu,zone=us')).toThrow(/^zone is given twice \(eu, us\); no host can have both$/);
  });

  it.each([
    ['zone', /^label "zone" must be key=value$/],
    ['=x', /^label "=x" must be key=value$/],
    ['-a=1', /^label key "-a" must be 1 to 63 letters/],
    ['a b=1', /^label key "a b" must be/],
    [`${'k'.repeat(64)}=1`, /^label key "k{64}" must be 1 to 63/],
    [`a=${'v'.repeat(257)}`, /^value of a is longer than 256 characters$/],
    [Array.from({ length: 65 }, (_, i) => `k${i}=v`).join(','), /^65 labels; at most 64$/],
  ])('refuses %j naming the pair', (text, re) => {
    expect(() => parseLabelList(text)).toThrow(LabelError);
    expect(() => parseLabelList(text)).toThrow(re);
  });

  it('refuses a value holding control characters (ESC, C1, bidi): what a host says is shown as data', () => {
    for (const v of ['web\u001b]52;c;eA==\u0007', 'web\u009b2J', 'a\nb', 'web\u202e'])
      expect(() => labelSet([['role', v]], 'labels')).toThrow(/labels: value of role holds control characters/);
    expect(labelSet([['zone', 'eu west ünïcode']])).toEqual({ zone: 'eu west ünïcode' });
  });

  it('splits a pair at its first =', () => {
    expect(parseLabelPair('a=b=c')).toEqual(['a', 'b=c']);
  });

  it('reads the API form as an object or an array of k=v strings, with the same rule', () => {
    expect(normalizeLabels({ zone: 'eu', 'k8s.io/tier': 'web' })).toEqual({ zone: 'eu', 'k8s.io/tier': 'web' });
    expect(normalizeLabels(['zone=eu', 'zone=eu'])).toEqual({ zone: 'eu' });
    expect(() => normalizeLabels([1])).toThrow(/each label must be a "key=value" string/);
    expect(() => normalizeLabels({ zone: 1 })).toThrow(/value of zone must be a string/);
    expect(() => normalizeLabels('zone=eu')).toThrow(/must be an object .* or an array/);
    expect(() =>
      labelSet([
        ['zone', 'eu'],
        ['zone', 'us'],
      ]),
    ).toThrow(/zone is given twice/);
  });

  it('names the field the labels came from when the caller gives it, wherever the rule breaks', () => {
    const err = (() => {
      try {
        normalizeLabels({ zone: 1 }, 'labels');
      } catch (e) {
        return e as LabelError;
      }
    })();
    expect(err).toBeInstanceOf(LabelError);
    expect(err).toMatchObject({ field: 'labels', message: 'labels: value of zone must be a string' });
    expect(() => normalizeLabels(['zone'], 'labels')).toThrow(/^labels: label "zone" must be key=value$/);
    expect(() => normalizeLabels([1], 'labels')).toThrow(/^labels: each label must be/);
    expect(() => normalizeLabels('zone=eu', 'labels')).toThrow(/^labels: must be an object/);
  });
});
