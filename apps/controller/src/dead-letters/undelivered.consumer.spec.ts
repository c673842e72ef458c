import {
  type CommandMessage,
  encode,
  generateSigningKey,
  PROTOCOL_VERSION,
  signBody,
  type SigningKey,
  type WarrenMessage,
} from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import type { ControllerKey } from '../keys/controller-key';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { CompletionNotifier } from '../tasks/completion.notifier';
import { UndeliveredConsumer } from './undelivered.consumer';

const NOW = Date.UTC(2026, 0, 1);
const command = (over: Partial<CommandMessage> = {}): CommandMessage => ({
  v: PROTOCOL_VERSION,
  kind: 'command',
  invocationId: 'i1',
  taskId: 't1',
  host: 'web1',
  namespace: 'warren',
  agentKeyId: 'SHA256:agent',
  command: 'true',
  runAs: null,
  cwd: null,
  env: {},
  timeoutMs: 60_000,
  killGraceMs: 1_000,
  issuedAt: NOW - 10_000,
  expiresAt: NOW - 5_000,
  replyTo: 'warren.results',
  ...over,
});
const EXPIRED = [{ reason: 'expired', queue: 'warren.agent.web1', count: 1 }];

describe('UndeliveredConsumer: which dead letters mark a command undelivered', () => {
  let own: SigningKey;
  let store: SqliteTaskStore;
  let consumer: UndeliveredConsumer;
  const state = async (id = 'i1') => (await store.getInvocations('t1')).find((r) => r.id === id)!.state;
  const deadLetter = async (
    message: WarrenMessage,
    key: SigningKey | null = own,
    deaths: object[] | null = EXPIRED,
  ) => {
    const body = encode(message);
    await consumer.onDeadLetter(
      body,
      { ...(key ? signBody(body, key) : {}), ...(deaths ? { 'x-death': deaths } : {}) },
      (message as CommandMessage).invocationId,
    );
  };

  beforeEach(async () => {
    own = generateSigningKey();
    store = new SqliteTaskStore(openDatabase(':memory:'));
    await store.createTask(
      {
        id: 't1',
        command: 'true',
        cwd: null,
        env: {},
        timeoutMs: 60_000,
        deliveryTimeoutMs: 5_000,
        killGraceMs: 1_000,
        state: 'running',
        createdAt: NOW - 10_000,
        finishedAt: null,
        hostCount: 2,
        runAs: null,
        createdBy: 'alice',
      },
      [
        { id: 'i1', host: 'web1', deadlineAt: NOW + 60_000 },
        { id: 'i2', host: 'web2', deadlineAt: NOW + 60_000 },
      ],
    );
    consumer = new UndeliveredConsumer(
      {} as BrokerService,
      { key: own } as unknown as ControllerKey,
      {} as ControllerConfig,
      store,
      new CompletionNotifier(),
      pino({ level: 'silent' }),
      new ManualClock(NOW),
    );
  });

  it('marks a pending invocation undelivered for its own signed command, expired in the queue', async () => {
    await deadLetter(command());
    expect(await state()).toBe('undelivered');
    expect((await store.getInvocations('t1'))[0].reason).toMatch(/expired in the host queue/);
    expect(await state('i2')).toBe('pending');
  });

  it('ignores an unsigned copy, one signed by another key, and one altered after signing', async () => {
    await deadLetter(command(), null);
    await deadLetter(command(), generateSigningKey());
    const body = encode(command());
    const headers = signBody(body, own);
    const altered = Buffer.from(body.toString().replace('"i1"', '"i2"'));
    await consumer.onDeadLetter(altered, { ...headers, 'x-death': EXPIRED }, 'i2');
    expect([await state('i1'), await state('i2')]).toEqual(['pending', 'pending']);
  });

  it('ignores a signed command whose signed expiry has not passed, and a signed message that is not a command', async () => {
    await deadLetter(command({ expiresAt: NOW + 60_000 }));
    await deadLetter({
      v: PROTOCOL_VERSION,
      kind: 'cancel',
      taskId: 't1',
      host: 'web1',
      invocationIds: ['i1'],
      requestedBy: 'x',
      issuedAt: NOW - 10_000,
      expiresAt: NOW - 5_000,
      replyTo: 'r',
    } as WarrenMessage);
    expect(await state()).toBe('pending');
  });

  it('takes a command as expired from the very ms of its signed expiry, not one ms before', async () => {
    await deadLetter(command({ expiresAt: NOW + 1 }));
    expect(await state()).toBe('pending');
    await deadLetter(command({ expiresAt: NOW }));
    expect(await state()).toBe('undelivered');
    expect((await store.getInvocations('t1'))[0].finishedAt).toBe(NOW);
  });

  it('ignores a dead letter that did not expire (an agent rejected it unread)', async () => {
    await deadLetter(command(), own, [{ reason: 'rejected', queue: 'warren.agent.web1', count: 1 }]);
    await deadLetter(command(), own, null);
    expect(await state()).toBe('pending');
  });

  it('leaves a running invocation running: an unread copy does not prove no copy was taken', async () => {
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'web1', startedAt: NOW - 1_000, resultGraceMs: 1_000 }],
      NOW,
    );
    await deadLetter(command());
    expect(await state()).toBe('running');
  });
});
