import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACCEPTED_PROTOCOLS,
  isAcceptedProtocol,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  protocolProblem,
  WARREN_VERSION,
} from './version';

describe('protocol versions', () => {
  it('accepts N and N−1, floored at 1: today 1 to 2', () => {
    expect(MIN_PROTOCOL_VERSION).toBe(Math.max(1, PROTOCOL_VERSION - 1));
    expect(ACCEPTED_PROTOCOLS).toEqual({ min: 1, max: 2 });
    expect([0, 1, 2, 3].map((v) => isAcceptedProtocol(v))).toEqual([false, true, true, false]);
  });

  it('once N is 3, accepts 2 and 3 only, and never a version that is not an integer', () => {
    const range = { min: 2, max: 3 };
    expect([1, 2, 3, 4].map((v) => isAcceptedProtocol(v, range))).toEqual([false, true, true, false]);
    for (const v of [2.5, '2', null, undefined, NaN, Infinity]) expect(isAcceptedProtocol(v, range)).toBe(false);
  });

  it('names both versions, and who speaks which, in the problem text', () => {
    expect(protocolProblem(0, 'agent', 'controller')).toBe('agent speaks protocol 0; this controller accepts 1 to 2');
    expect(protocolProblem(4, 'controller', 'agent', { min: 2, max: 3 })).toBe(
      'controller speaks protocol 4; this agent accepts 2 to 3',
    );
  });

  it("reports package.json's version, the one the agent artifact is named after", () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
    expect(WARREN_VERSION).toBe(pkg.version);
  });
});
