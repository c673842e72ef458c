import { describe, expect, it } from 'vitest';
import { WARREN_VERSION } from '@warren/protocol';
import { agentProgram } from './agent.program';
import { BUILD_STAMP, versionLine } from './build.stamp';

describe('build stamp', () => {
  it('says the commit is unknown when the agent runs from source (the webpack build stamps it)', () => {
    expect(BUILD_STAMP).toEqual({ version: WARREN_VERSION, commit: 'unknown' });
    expect(versionLine()).toBe(`${WARREN_VERSION} (commit unknown)`);
    expect(versionLine({ version: '1.2.0', commit: '0123456789ab-dirty' })).toBe('1.2.0 (commit 0123456789ab-dirty)');
  });

  it('is what --version prints', () => {
    let out = '';
    const program = agentProgram()
      .exitOverride()
      .configureOutput({ writeOut: (s) => (out += s) });
    expect(() => program.parse(['node', 'warren-agent', '--version'])).toThrow();
    expect(out).toBe(`${versionLine()}\n`);
  });
});
