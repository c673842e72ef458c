import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AGENT_OPTIONS } from './agent.program';

/** /docker-compose.yml; the controller's side of it is checked in apps/controller (docker-compose.spec.ts). */
const COMPOSE = resolve(__dirname, '../../../../docker-compose.yml');

const { services } = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
};
const agents = Object.keys(services).filter((s) => services[s].command?.[0] === 'warren-agent');
const read = new Set(Object.values(AGENT_OPTIONS).map((o) => o.env));

describe('docker-compose.yml, agents', () => {
  it('set only variables the agent reads (a misspelt one would be ignored without a word)', () => {
    expect(agents.length).toBeGreaterThanOrEqual(5);
    for (const a of agents) {
      const unknown = Object.keys(services[a].environment ?? {}).filter((v) => !read.has(v));
      expect(unknown, a).toEqual([]);
    }
  });

  it('ask for a queue type the agent accepts, and the same as the controllers they work for', () => {
    const types = new Map(
      agents.map((a) => [
        a,
        AGENT_OPTIONS.queueType.parse(services[a].environment?.WARREN_QUEUE_TYPE ?? AGENT_OPTIONS.queueType.default),
      ]),
    );
    for (const [a, type] of types) expect(type, a).toBe(a.startsWith('cluster-') ? 'quorum' : 'classic');
  });
});
