import type { Channel } from '@warren/amqp';
import { describe, expect, it } from 'vitest';
import { agentTopologySetup } from './agent.topology';

describe('agentTopologySetup', () => {
  it('declares the shared topology and this host inbox exactly as the controller does', async () => {
    const calls: unknown[][] = [];
    const ch = {
      assertExchange: async (...a: unknown[]) => void calls.push(['exchange', ...a]),
      assertQueue: async (...a: unknown[]) => void calls.push(['queue', ...a]),
      bindQueue: async (...a: unknown[]) => void calls.push(['bind', ...a]),
    } as unknown as Channel;
    await agentTopologySetup('ns', 'web1')(ch);
    const d = { durable: true };
    expect(calls.filter((c) => c[0] === 'exchange')).toEqual([
      ['exchange', 'ns.cmd', 'direct', d],
      ['exchange', 'ns.ctl', 'direct', d],
      ['exchange', 'ns.replies', 'direct', d],
      ['exchange', 'ns.dlx', 'fanout', d],
      ['exchange', 'ns.presence', 'fanout', d],
    ]);
    const queues = calls.filter((c) => c[0] === 'queue').map((c) => [c[1], (c[2] as { durable: boolean; arguments?: object }).durable, (c[2] as { arguments?: object }).arguments]);
    expect(queues).toEqual([
      ['ns.results', true, undefined],
      ['ns.undelivered', true, undefined],
      ['ns.agent.web1', true, { 'x-dead-letter-exchange': 'ns.dlx', 'x-queue-type': 'classic' }],
    ]);
    expect(calls.filter((c) => c[0] === 'bind')).toEqual([
      ['bind', 'ns.results', 'ns.replies', 'ns.results'],
      ['bind', 'ns.undelivered', 'ns.dlx', ''],
      ['bind', 'ns.agent.web1', 'ns.cmd', 'web1'],
    ]);
  });
});
