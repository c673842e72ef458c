import { describe, expect, it } from 'vitest';
import { collectEnv, parseEnvAssignment } from './env.parser';
import { parseHostList } from './hosts.parser';

describe('parseEnvAssignment', () => {
  it('splits at the first = and keeps the rest of the value as given', () => {
    expect(parseEnvAssignment('GREETING=hello there')).toEqual(['GREETING', 'hello there']);
    expect(parseEnvAssignment('URL=a=b=c')).toEqual(['URL', 'a=b=c']);
    expect(parseEnvAssignment('EMPTY=')).toEqual(['EMPTY', '']);
    expect(parseEnvAssignment('_x1=1')).toEqual(['_x1', '1']);
  });

  it('refuses what is not NAME=VALUE with a valid name, saying why', () => {
    expect(() => parseEnvAssignment('NOVALUE')).toThrow(/expected NAME=VALUE/);
    expect(() => parseEnvAssignment('=x')).toThrow(/not a valid variable name/);
    expect(() => parseEnvAssignment('1A=x')).toThrow(/"1A" is not a valid variable name/);
    expect(() => parseEnvAssignment('BAD-NAME=x')).toThrow(/not a valid variable name/);
  });

  it('collects repeated --env into one object, the later value winning', () => {
    const env = ['A=1', 'B=2', 'A=3'].reduce<Record<string, string> | undefined>(
      (acc, t) => collectEnv(t, acc),
      undefined,
    );
    expect(env).toEqual({ A: '3', B: '2' });
  });
});

describe('parseHostList', () => {
  it('accepts hosts space separated (several values) and comma separated, dropping blanks and repeats', () => {
    expect(parseHostList(['web1', 'web2,web3', 'web1', 'db1,', ' , '])).toEqual(['web1', 'web2', 'web3', 'db1']);
  });
});
