import { agentControlQueueArguments, agentQueueArguments } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { QueueTypeMismatchError } from './errors';
import { queueTypeMismatch } from './topology';

/** RabbitMQ 3.10.8's refusal of a redeclare, as amqplib reports it (texts recorded from the broker). */
const refusal = (arg: string, received: string, current: string) =>
  Object.assign(
    new Error(
      `Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg '${arg}' for queue 'ns.q' in vhost '/': received ${received} but current is ${current}"`,
    ),
    { code: 406 },
  );
const longstr = (v: string) => `the value '${v}' of type 'longstr'`;
const inbox = (t: 'classic' | 'quorum') => agentQueueArguments('ns', t);

describe('queueTypeMismatch', () => {
  it('names the type found and the type configured when the broker refuses x-queue-type', () => {
    // results/undelivered/control: classic ones carry no x-queue-type at all
    expect(
      queueTypeMismatch(
        refusal('x-queue-type', longstr('quorum'), 'none'),
        'ns.q',
        agentControlQueueArguments('quorum'),
      ),
    ).toEqual(new QueueTypeMismatchError('ns.q', 'classic', 'quorum'));
    expect(queueTypeMismatch(refusal('x-queue-type', 'none', longstr('quorum')), 'ns.q', undefined)).toMatchObject({
      queue: 'ns.q',
      found: 'quorum',
      configured: 'classic',
    });
    expect(queueTypeMismatch(refusal('x-queue-type', "'classic'", "'quorum'"), 'ns.q', inbox('classic'))).toMatchObject(
      {
        found: 'quorum',
        configured: 'classic',
      },
    );
  });

  it('recognises an inbox of the other type refused for an argument RabbitMQ compares before x-queue-type', () => {
    // a classic inbox redeclared quorum: refused for x-overflow
    expect(
      queueTypeMismatch(refusal('x-overflow', longstr('reject-publish'), 'none'), 'ns.q', inbox('quorum')),
    ).toEqual(new QueueTypeMismatchError('ns.q', 'classic', 'quorum'));
    // a quorum inbox redeclared classic: refused for x-dead-letter-strategy
    expect(
      queueTypeMismatch(refusal('x-dead-letter-strategy', 'none', longstr('at-least-once')), 'ns.q', inbox('classic')),
    ).toEqual(new QueueTypeMismatchError('ns.q', 'quorum', 'classic'));
  });

  it('leaves every other refusal as it is: another delivery limit, another dead-letter exchange, no 406', () => {
    const limit = refusal('x-delivery-limit', "'11'", "'10'");
    expect(queueTypeMismatch(limit, 'ns.q', inbox('quorum'))).toBe(limit);
    const dlx = refusal('x-dead-letter-exchange', 'none', longstr('ns.dlx'));
    expect(queueTypeMismatch(dlx, 'ns.q', inbox('classic'))).toBe(dlx);
    const denied = Object.assign(new Error('ACCESS_REFUSED'), { code: 403 });
    expect(queueTypeMismatch(denied, 'ns.q', inbox('quorum'))).toBe(denied);
  });

  it('says where to read how to switch', () => {
    expect(new QueueTypeMismatchError('ns.results', 'classic', 'quorum').message).toBe(
      'queue ns.results exists as a classic queue, but this process declares it quorum (--queue-type quorum): every controller and agent of an installation needs the same --queue-type; to switch an installation see docs/scaling.md, "Queue type: classic or quorum"',
    );
  });
});
