import { describe, expect, it } from 'vitest';
import { agentQueueArguments, agentTopology, sharedTopology } from './topology';

/** The queues of a topology as `name → arguments` (undefined: declared without any). */
const queueArgs = (t: ReturnType<typeof sharedTopology>) =>
  Object.fromEntries(t.queues.map((q) => [q.name, q.durable && q.arguments]));

describe('topology by queue type', () => {
  it('declares classic queues exactly as installations before --queue-type did (a changed argument is PRECONDITION_FAILED)', () => {
    expect(queueArgs(agentTopology('ns', 'web1', 'classic'))).toEqual({
      'ns.results': undefined,
      'ns.undelivered': undefined,
      'ns.fetched': undefined,
      'ns.agent.web1': { 'x-dead-letter-exchange': 'ns.dlx', 'x-queue-type': 'classic' },
      'ns.ctl.web1': undefined,
      'ns.chunks.web1': undefined,
    });
    // No `arguments` key at all, so the declare's wire bytes are unchanged too.
    for (const q of agentTopology('ns', 'web1', 'classic').queues)
      if (q.name !== 'ns.agent.web1') expect(Object.keys(q)).toEqual(['name', 'durable']);
    expect(agentQueueArguments('ns', 'classic')).toEqual({
      'x-dead-letter-exchange': 'ns.dlx',
      'x-queue-type': 'classic',
    });
  });

  it('declares every durable queue quorum, each with a delivery limit, the inbox dead-lettering at least once', () => {
    const inbox = {
      'x-dead-letter-exchange': 'ns.dlx',
      'x-queue-type': 'quorum',
      'x-delivery-limit': 10,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    };
    expect(queueArgs(agentTopology('ns', 'web1', 'quorum'))).toEqual({
      'ns.results': { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 },
      'ns.undelivered': { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 },
      'ns.fetched': { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 },
      'ns.agent.web1': inbox,
      'ns.ctl.web1': { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 },
      'ns.chunks.web1': { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 },
    });
    expect(agentQueueArguments('ns', 'quorum')).toEqual(inbox);
    expect(agentTopology('ns', 'web1', 'quorum').queues.every((q) => q.durable)).toBe(true);
  });

  it('changes only queue arguments with the type: same names, exchanges and bindings', () => {
    const { queues: qc, ...classic } = agentTopology('ns', 'web1', 'classic');
    const { queues: qq, ...quorum } = agentTopology('ns', 'web1', 'quorum');
    expect(quorum).toEqual(classic);
    expect(qq.map((q) => q.name)).toEqual(qc.map((q) => q.name));
    expect(sharedTopology('ns', 'quorum').queues.map((q) => q.name)).toEqual([
      'ns.results',
      'ns.undelivered',
      'ns.fetched',
    ]);
  });
});
