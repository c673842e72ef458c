import { describe, expect, it } from 'vitest';
import {
  expandHostPattern,
  foldHosts,
  HostPatternError,
  isGlob,
  matchHosts,
  MAX_HOST_PATTERN_EXPANSION,
  naturalCompare,
  splitHostPatterns,
} from './hostlist';

const expandAll = (folded: string) => splitHostPatterns(folded).flatMap((p) => expandHostPattern(p));

describe('expandHostPattern', () => {
  it('expands a zero-padded range, keeping the width', () => {
    expect(expandHostPattern('web[01-03]')).toEqual(['web01', 'web02', 'web03']);
    expect(expandHostPattern('web[08-10]')).toEqual(['web08', 'web09', 'web10']);
    expect(expandHostPattern('n[001-002].dc1')).toEqual(['n001.dc1', 'n002.dc1']);
  });

  it('expands unpadded ranges and single values mixed in one bracket, in order and without repeats', () => {
    expect(expandHostPattern('web[1-3,7,10-11]')).toEqual(['web1', 'web2', 'web3', 'web7', 'web10', 'web11']);
    expect(expandHostPattern('web[1-3,2]')).toEqual(['web1', 'web2', 'web3']);
    expect(expandHostPattern('web[9-10]')).toEqual(['web9', 'web10']);
  });

  it('takes the product of several brackets', () => {
    expect(expandHostPattern('r[1-2]n[1-2]')).toEqual(['r1n1', 'r1n2', 'r2n1', 'r2n2']);
  });

  it('returns a plain host id as itself', () => {
    expect(expandHostPattern('db1')).toEqual(['db1']);
  });

  it.each([
    ['web[3-1]', /range 3-1 runs backwards/],
    ['web[01-03', /"\[" at position 4 is never closed/],
    ['web]1', /"]" without a "\["/],
    ['web[]', /empty brackets/],
    ['web[a-c]', /expected numbers or ranges/],
    ['web[1-2[3]]', /cannot be nested/],
    ['web!1', /"!" cannot be part of a host id/],
    ['-[1-2]', /"-1" is not a valid host id/],
    ['', /empty pattern/],
    ['web*', /is a glob/],
    [`h[1-${'9'.repeat(16)}]`, /more than 15 digits/],
  ])('refuses %j with a clear error', (pattern, message) => {
    expect(() => expandHostPattern(pattern)).toThrow(HostPatternError);
    expect(() => expandHostPattern(pattern)).toThrow(message);
  });

  it('names the field the pattern came from when the caller gives it, in ranges and globs alike', () => {
    expect(() => expandHostPattern('web[3-1]', 10, 'hosts')).toThrow(
      /^hosts: host pattern "web\[3-1\]": range 3-1 runs backwards$/,
    );
    expect(() => matchHosts('web[abc]*', ['web1'], 10, 'hosts')).toThrow(/^hosts: host pattern "web\[abc\]\*": /);
    expect(() => expandHostPattern('h[1-20]', 10, 'hosts')).toThrow(/^hosts: .*expands to 20 names/);
    expect(new HostPatternError('x', 'bad', 'hosts')).toMatchObject({ field: 'hosts', pattern: 'x' });
  });

  it('accepts a range that starts with a digit', () => {
    expect(expandHostPattern('[1-2]web')).toEqual(['1web', '2web']);
  });

  it('refuses to expand past the cap, before building the list', () => {
    expect(expandHostPattern('h[1-10000]')).toHaveLength(MAX_HOST_PATTERN_EXPANSION);
    expect(() => expandHostPattern('h[1-10001]')).toThrow(/expands to 10001 names, more than the limit of 10000/);
    expect(() => expandHostPattern('h[1-1000]x[1-1000]y[1-1000000]')).toThrow(/more than the limit/);
    expect(() => expandHostPattern('h[1-5]', 4)).toThrow(/limit of 4/);
  });

  it('refuses names longer than a host id may be', () => {
    expect(() => expandHostPattern(`${'a'.repeat(62)}[1-10]`)).toThrow(/is not a valid host id/);
  });
});

describe('globs', () => {
  const known = ['web10', 'web2', 'web1', 'web01', 'db1', 'db12', 'web01.old'];

  it('tells a glob from a range', () => {
    expect(isGlob('web*')).toBe(true);
    expect(isGlob('db?')).toBe(true);
    expect(isGlob('web[01-20]')).toBe(false);
  });

  it('matches * and ? against known hosts only, naturally sorted', () => {
    expect(matchHosts('web*', known)).toEqual(['web1', 'web01', 'web01.old', 'web2', 'web10']);
    expect(matchHosts('db?', known)).toEqual(['db1']);
    expect(matchHosts('nothing*', known)).toEqual([]);
  });

  it('treats a dot as a dot, not any character', () => {
    expect(matchHosts('web01.*', ['web01.old', 'web01xold'])).toEqual(['web01.old']);
  });

  it('accepts a range inside a glob', () => {
    expect(matchHosts('web[01-02]*', ['web01', 'web01.old', 'web02x', 'web03', 'web1'])).toEqual([
      'web01',
      'web01.old',
      'web02x',
    ]);
    expect(matchHosts('w[1-2]?', ['w1a', 'w2.', 'w3a', 'w1', 'w1ab'])).toEqual(['w1a', 'w2.']);
  });

  it('expands a range to names whether or not they are known', () => {
    expect(matchHosts('web[1-2]', [])).toEqual(['web1', 'web2']);
  });

  it('refuses characters a host id cannot have', () => {
    expect(() => matchHosts('web+*', known)).toThrow(/"\+" cannot be part of a host id or a glob/);
    expect(() => matchHosts('web[1-*', known)).toThrow(/never closed/);
  });
});

describe('splitHostPatterns', () => {
  it('splits at commas outside brackets only', () => {
    expect(splitHostPatterns('web[1-3,7],db1 , ,db2')).toEqual(['web[1-3,7]', 'db1', 'db2']);
  });
});

describe('naturalCompare', () => {
  it('sorts digit runs by value', () => {
    expect(['web10', 'web2', 'web1', 'db3', 'web1a', 'web07', 'web7'].sort(naturalCompare)).toEqual([
      'db3',
      'web1',
      'web1a',
      'web2',
      'web7',
      'web07',
      'web10',
    ]);
  });

  it('is a total order: equal only for equal strings', () => {
    expect(naturalCompare('a01', 'a1')).not.toBe(0);
    expect(naturalCompare('a01', 'a01')).toBe(0);
    expect(Math.sign(naturalCompare('x', 'x1'))).toBe(-1);
  });
});

describe('foldHosts', () => {
  it('folds runs with the same prefix and padding, in natural order', () => {
    expect(foldHosts(['web01', 'web02', 'web03', 'db1'])).toBe('db1,web[01-03]');
    expect(foldHosts(['web03', 'web07'])).toBe('web[03,07]');
    expect(foldHosts(['web1'])).toBe('web1');
    expect(foldHosts([])).toBe('');
  });

  it('keeps padded and unpadded numbers apart, and lets 10 continue 08-09', () => {
    expect(foldHosts(['web8', 'web9', 'web10'])).toBe('web[8-10]');
    expect(foldHosts(['web08', 'web09', 'web10'])).toBe('web[08-10]');
    expect(foldHosts(['web1', 'web01', 'web2', 'web02'])).toBe('web[1-2,01-02]');
  });

  it('folds only names whose text around the number is the same, the last number first', () => {
    expect(foldHosts(['web1.dc1', 'web2.dc1', 'web1.dc2', 'api1'])).toBe('api1,web1.dc[1-2],web2.dc1');
    expect(foldHosts(['web1.dc1', 'web2.dc1', 'web3.dc2'])).toBe('web[1-2].dc1,web3.dc2');
  });

  it('folds several dimensions', () => {
    expect(foldHosts(['r1n1', 'r1n2', 'r2n1', 'r2n2'])).toBe('r[1-2]n[1-2]');
    expect(foldHosts(['r1n1', 'r1n2', 'r2n1'])).toBe('r1n[1-2],r2n1');
  });

  it('drops repeats and leaves names without digits as they are', () => {
    expect(foldHosts(['gateway', 'web2', 'web1', 'web2', 'alpha'])).toBe('alpha,gateway,web[1-2]');
  });

  it('expands back to exactly the names it folded', () => {
    const cases = [
      ['web01', 'web02', 'web03', 'db1'],
      ['web1', 'web01', 'web001', 'web10', 'web010', 'web9', 'web09', 'web11', 'web100'],
      ['a0', 'a00', 'a1', 'a2', 'a10', 'a11', 'a08', 'a9'],
      ['r1n1', 'r1n2', 'r2n1', 'r2n2', 'r3n5', 'r10n1', 'x', 'y.1-2'],
      ['10.0.0.1', '10.0.0.2', '10.0.1.1', '10.0.1.2'],
    ];
    // plus a pseudo-random mix, deterministic so that a failure can be replayed
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let k = 0; k < 50; k++) {
      cases.push(
        Array.from(
          { length: 1 + rand(30) },
          () => `${['web', 'db', 'r1n'][rand(3)]}${String(rand(25)).padStart(rand(3) + 1, '0')}${['', '.a'][rand(2)]}`,
        ),
      );
    }
    for (const hosts of cases) {
      const folded = foldHosts(hosts);
      expect(new Set(expandAll(folded)), folded).toEqual(new Set(hosts));
      expect(expandAll(folded).length, folded).toBe(new Set(hosts).size);
    }
  });

  it('folds a large fleet quickly', () => {
    const hosts = Array.from({ length: 10_000 }, (_, i) => `node${String(i + 1).padStart(5, '0')}`);
    const started = Date.now();
    expect(foldHosts(hosts.reverse())).toBe('node[00001-10000]');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
