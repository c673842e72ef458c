import type { Channel, ChannelModel } from '@warren/amqp';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { agentTopologySetup, TopologyMissingError } from './agent.topology';

const amqpError = (code: number, message: string) => Object.assign(new Error(message), { code });

/** A declaring channel that records calls and fails the first `assertExchange` with `failWith`. */
function declaringChannel(calls: unknown[][], failWith?: Error): Channel {
  return {
    assertExchange: async (...a: unknown[]) => {
      if (failWith) throw failWith;
      calls.push(['exchange', ...a]);
    },
    assertQueue: async (...a: unknown[]) => void calls.push(['queue', ...a]),
    bindQueue: async (...a: unknown[]) => void calls.push(['bind', ...a]),
  } as unknown as Channel;
}

/** A connection whose channels answer passive checks: `missing` names give NOT_FOUND. */
function passiveConn(checks: string[], missing: string[] = []) {
  let channels = 0;
  let closed = 0;
  const conn = {
    createChannel: async () => {
      channels++;
      const check = async (name: string) => {
        checks.push(name);
        if (missing.includes(name)) throw amqpError(404, `NOT_FOUND - no queue '${name}'`);
        return { queue: name };
      };
      return { on: () => undefined, checkExchange: check, checkQueue: check, close: async () => void closed++ };
    },
  } as unknown as ChannelModel;
  return { conn, channels: () => channels, closed: () => closed };
}

const silent = pino({ level: 'silent' });

describe('agentTopologySetup', () => {
  it('declares the shared topology and this host inbox, control and chunk queues exactly as the controller does', async () => {
    const calls: unknown[][] = [];
    const { conn, channels } = passiveConn([]);
    await agentTopologySetup('ns', 'web1', 'classic', silent)(declaringChannel(calls), conn);
    const d = { durable: true };
    expect(calls.filter((c) => c[0] === 'exchange')).toEqual([
      ['exchange', 'ns.cmd', 'direct', d],
      ['exchange', 'ns.ctl', 'direct', d],
      ['exchange', 'ns.replies', 'direct', d],
      ['exchange', 'ns.dlx', 'fanout', d],
      ['exchange', 'ns.presence', 'fanout', d],
      ['exchange', 'ns.changes', 'fanout', d], // the controllers' wake-ups: shared, as the controller declares it
      ['exchange', 'ns.chunks', 'direct', d], // file chunks to agents (issue 16)
    ]);
    const queues = calls
      .filter((c) => c[0] === 'queue')
      .map((c) => [
        c[1],
        (c[2] as { durable: boolean; arguments?: object }).durable,
        (c[2] as { arguments?: object }).arguments,
      ]);
    expect(queues).toEqual([
      ['ns.results', true, undefined],
      ['ns.undelivered', true, undefined],
      ['ns.fetched', true, undefined],
      ['ns.agent.web1', true, { 'x-dead-letter-exchange': 'ns.dlx', 'x-queue-type': 'classic' }],
      ['ns.ctl.web1', true, undefined],
      ['ns.chunks.web1', true, undefined],
    ]);
    expect(calls.filter((c) => c[0] === 'bind')).toEqual([
      ['bind', 'ns.results', 'ns.replies', 'ns.results'],
      ['bind', 'ns.undelivered', 'ns.dlx', ''],
      ['bind', 'ns.fetched', 'ns.replies', 'ns.fetched'],
      ['bind', 'ns.agent.web1', 'ns.cmd', 'web1'],
      ['bind', 'ns.ctl.web1', 'ns.ctl', 'web1'],
      ['bind', 'ns.chunks.web1', 'ns.chunks', 'web1'],
    ]);
    expect(channels()).toBe(0);
  });

  it('with --queue-type quorum, declares every durable queue quorum, as the controller does', async () => {
    const calls: unknown[][] = [];
    await agentTopologySetup('ns', 'web1', 'quorum', silent)(declaringChannel(calls), passiveConn([]).conn);
    const queues = calls.filter((c) => c[0] === 'queue').map((c) => [c[1], (c[2] as { arguments?: object }).arguments]);
    expect(queues).toEqual([
      ['ns.results', { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 }],
      ['ns.undelivered', { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 }],
      ['ns.fetched', { 'x-queue-type': 'quorum', 'x-delivery-limit': 1000 }],
      [
        'ns.agent.web1',
        {
          'x-dead-letter-exchange': 'ns.dlx',
          'x-queue-type': 'quorum',
          'x-delivery-limit': 10,
          'x-dead-letter-strategy': 'at-least-once',
          'x-overflow': 'reject-publish',
        },
      ],
      ['ns.ctl.web1', { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 }],
      ['ns.chunks.web1', { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 }],
    ]);
  });

  it('with a user refused declares, checks the provisioned exchanges and its own queues on a fresh channel instead', async () => {
    const checks: string[] = [];
    const { conn, closed } = passiveConn(checks);
    const logged: unknown[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void logged.push(JSON.parse(l)) });
    await agentTopologySetup(
      'ns',
      'web1',
      'classic',
      log,
    )(declaringChannel([], amqpError(403, 'ACCESS_REFUSED - access to exchange')), conn);
    expect(checks).toEqual(['ns.replies', 'ns.presence', 'ns.agent.web1', 'ns.ctl.web1', 'ns.chunks.web1']);
    expect(closed()).toBe(1);
    expect(logged).toEqual([
      expect.objectContaining({ inbox: 'ns.agent.web1', msg: expect.stringContaining('managed by the broker admin') }),
    ]);
  });

  it('after one refusal, skips declaring on every later reconnect', async () => {
    const setup = agentTopologySetup('ns', 'web1', 'classic', silent);
    const checks: string[] = [];
    await setup(declaringChannel([], amqpError(403, 'ACCESS_REFUSED')), passiveConn(checks).conn);
    const calls: unknown[][] = [];
    await setup(declaringChannel(calls), passiveConn(checks).conn);
    expect(calls).toEqual([]);
    expect(checks).toHaveLength(10);
  });

  it('fails the connect, naming the missing queue and how to provision it, when the admin has not declared it', async () => {
    const { conn, closed } = passiveConn([], ['ns.agent.web1']);
    const run = agentTopologySetup(
      'ns',
      'web1',
      'classic',
      silent,
    )(declaringChannel([], amqpError(403, 'ACCESS_REFUSED')), conn);
    await expect(run).rejects.toThrow(TopologyMissingError);
    await expect(run).rejects.toThrow(/queue ns\.agent\.web1 does not exist.*scripts\/broker-users\.sh agent web1/);
    expect(closed()).toBe(1);
    const quorum = agentTopologySetup(
      'ns',
      'web1',
      'quorum',
      silent,
    )(declaringChannel([], amqpError(403, 'ACCESS_REFUSED')), passiveConn([], ['ns.agent.web1']).conn);
    await expect(quorum).rejects.toThrow(/scripts\/broker-users\.sh --queue-type quorum agent web1/);
    // An installation provisioned before file transfers: its agents' chunk queues are missing.
    const noChunks = agentTopologySetup(
      'ns',
      'web1',
      'classic',
      silent,
    )(declaringChannel([], amqpError(403, 'ACCESS_REFUSED')), passiveConn([], ['ns.chunks.web1']).conn);
    await expect(noChunks).rejects.toThrow(/queue ns\.chunks\.web1 does not exist.*broker-users\.sh agent web1/);
  });

  it('rethrows any other broker error, so the connection retries as before', async () => {
    const { conn, channels } = passiveConn([]);
    const run = agentTopologySetup(
      'ns',
      'web1',
      'classic',
      silent,
    )(declaringChannel([], amqpError(406, 'PRECONDITION_FAILED - inequivalent arg')), conn);
    await expect(run).rejects.toThrow(/PRECONDITION_FAILED/);
    expect(channels()).toBe(0);
  });
});
