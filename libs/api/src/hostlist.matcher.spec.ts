import { describe, expect, it } from 'vitest';
import { compileHostPattern, expandHostPattern, hostPatternSize } from './hostlist';

/** The glob as the backtracking RegExp it used to be, as a reference on small inputs only. */
function reference(pattern: string): RegExp {
  const body = pattern
    .split(/(\[[^\]]*\])/)
    .map((part) =>
      part.startsWith('[')
        ? `(?:${expandHostPattern(`x${part}`)
            .map((n) => n.slice(1))
            .join('|')})`
        : part.replace(/\./g, '\\.').replace(/\*/g, '[A-Za-z0-9._-]*').replace(/\?/g, '[A-Za-z0-9._-]'),
    )
    .join('');
  return new RegExp(`^${body}$`);
}

describe('compileHostPattern', () => {
  const hosts = [
    'web',
    'web1',
    'web01',
    'web10',
    'web01.old',
    'db1',
    'db-eu.7',
    'w1a',
    'n0',
    'n00',
    'n010',
    'n10',
    'w007x',
    'a',
    'aaaa',
    'web1web1',
  ];

  it('agrees with the anchored glob RegExp on names, ranges, globs and mixes', () => {
    const patterns = [
      'web*',
      'web?',
      '*1',
      '*web*',
      'w*1*',
      'db[1-3]',
      'web[01-10]',
      'web[1,10]*',
      'w[001-010]x',
      '*[1-9]',
      '?',
      '**',
      'a*a*a',
      'web1web1',
      '*.*',
      'w[1-2]?',
      'n[0-5]',
      'n[00-05]',
      'n[1-20]',
      'n[01-20]',
      'n[00-10]*',
    ];
    for (const p of patterns) {
      const m = compileHostPattern(p);
      const re = reference(p);
      for (const h of hosts) expect(m.test(h), `${p} ${h}`).toBe(re.test(h));
    }
  });

  it('matches a bracket value only as written: padded and unpadded apart', () => {
    const m = compileHostPattern('lb[01-02]');
    expect(['lb01', 'lb02', 'lb1', 'lb001', 'lb03'].map((h) => m.test(h))).toEqual([true, true, false, false, false]);
  });

  it('matches a bracket of a trillion values without expanding it', () => {
    expect(compileHostPattern('n[1-999999999999]*').test('n123456789012x')).toBe(true);
    expect(compileHostPattern('n[1-999999999999]*').test('n0x')).toBe(false);
  });

  it('answers a dozen and more stars before a letter no host has, on a long name, without backtracking', () => {
    // A backtracking RegExp takes seconds to refuse this (each star roughly doubles it); this must return at once.
    const attack = compileHostPattern(`${'*'.repeat(254)}z`);
    const interleaved = compileHostPattern(`${'a*'.repeat(30)}z`);
    const name = 'a'.repeat(63);
    expect(attack.test(name)).toBe(false);
    expect(interleaved.test(name)).toBe(false);
    expect(compileHostPattern(`${'*a'.repeat(31)}*`).test(name)).toBe(true);
  });

  it('agrees with the anchored glob RegExp on random patterns of stars, padded and unpadded brackets and digits', () => {
    let seed = 19;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const parts = [
      'a',
      '0',
      '1',
      '9',
      '*',
      '?',
      '[0-12]',
      '[00-10]',
      '[1,10,100]',
      '[5-120]',
      '[007-9]',
      '[0]',
      '[09-11]',
    ];
    const chars = 'a0159';
    for (let round = 0; round < 300; round++) {
      const pattern = Array.from({ length: 1 + rand(5) }, () => parts[rand(parts.length)]).join('');
      const m = compileHostPattern(pattern);
      const re = reference(pattern);
      for (let j = 0; j < 40; j++) {
        const name = Array.from({ length: 1 + rand(8) }, () => chars[rand(chars.length)]).join('');
        expect(m.test(name), `${pattern} ${name}`).toBe(re.test(name));
      }
    }
  });

  it('refuses a bracket bound of more than 12 digits and more than 8 brackets, naming the rule', () => {
    expect(() => compileHostPattern('n[1-9999999999999]*', 'hosts')).toThrow(
      /^hosts: host pattern "n\[1-9999999999999\]\*": a bracket bound has 13 digits; a glob's brackets hold numbers of at most 12 digits$/,
    );
    expect(() => compileHostPattern('n[0000000000001-2]')).toThrow(/has 13 digits/);
    expect(compileHostPattern('[1-2]'.repeat(8)).test('12121212')).toBe(true);
    expect(() => compileHostPattern('[1-2]'.repeat(9))).toThrow(/: 9 brackets; a glob holds at most 8$/);
  });

  it('costs a name its length or literal ends rule out one step, another its middle characters + 1 times the middle steps', () => {
    const m = compileHostPattern('web[01-20]*');
    expect(m.cost('db1')).toBe(1);
    // `web` is checked as the literal start: the middle `[01-20]*` (2 + 1 steps) runs over `01.example`.
    expect(m.cost('web01.example')).toBe((13 - 3 + 1) * (2 + 1));
  });

  it('matches literals and stars between the ends by searching each run once: a fleet sharing long ends costs its length', () => {
    const m = compileHostPattern('prod-*-7*.eu-west-1.example.com');
    const host = 'prod-frontend-712.eu-west-1.example.com';
    expect(m.test(host)).toBe(true);
    expect(m.test('prod-frontend-812.eu-west-1.example.com')).toBe(false);
    expect(m.cost(host)).toBe(host.length + 1);
    for (const [pattern, name, expected] of [
      ['a*b*c', 'abc', true],
      ['a*b*c', 'ac', false],
      ['ab*ba', 'aba', false],
      ['ab*ba', 'abba', true],
      ['*-eu-*', 'x-eu-y', true],
      ['*-eu-*', '-eu-', true],
      ['*-eu-*-eu-*', 'a-eu-b', false],
      ['*', '', true],
      ['bastion', 'bastion', true],
      ['bastion', 'bastion2', false],
    ] as const)
      expect([pattern, name, compileHostPattern(pattern).test(name)]).toEqual([pattern, name, expected]);
  });

  it('refuses characters no host id or glob has, and names outside host-id characters never match', () => {
    expect(() => compileHostPattern('web+*', 'hosts')).toThrow(/^hosts: host pattern "web\+\*": "\+" cannot be part/);
    expect(compileHostPattern('*').test('bad name')).toBe(false);
  });
});

describe('hostPatternSize', () => {
  it('counts the names a range stands for without building them', () => {
    expect(hostPatternSize('web[01-20]')).toBe(20);
    expect(hostPatternSize('db1')).toBe(1);
    expect(hostPatternSize('x0y[0-9999]')).toBe(10_000);
    expect(hostPatternSize('r[1-1000000]n[1-1000000]')).toBe(1e12);
  });
});
