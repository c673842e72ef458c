import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Delivery } from '@warren/amqp';
import { type CommandMessage, encode, type ReplyMessage, type ResultMessage } from '@warren/protocol';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { InvocationJournal } from '../journal/invocation.journal';
import { InboxService } from './inbox.service';
import type { ReplyPublisher } from './reply.publisher';

/** A delivery as the consumer hands it over, recording how it was settled. */
class FakeDelivery {
  settled: 'ack' | 'reject' | 'requeue' | null = null;
  live = true;
  redelivered = false;
  /** whether the journal held the invocation when it was acked */
  journaledAtAck: boolean | null = null;
  constructor(
    readonly content: Buffer,
    readonly properties: Record<string, unknown>,
    private readonly journal: () => InvocationJournal,
  ) {}
  ack(): void {
    if (this.settled) throw new Error(`settled twice (was ${this.settled})`);
    this.settled = 'ack';
    const id = this.properties.correlationId as string;
    this.journaledAtAck = this.journal().has(id);
  }
  reject(requeue = false): void {
    if (this.settled) throw new Error(`settled twice (was ${this.settled})`);
    this.settled = requeue ? 'requeue' : 'reject';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('InboxService', () => {
  let dir: string;
  let journal: InvocationJournal;
  let runner: ProcessRunner;
  let sent: { message: ReplyMessage; routingKey: string }[];
  let inbox: InboxService;
  let seq = 0;

  const make = (concurrency: number) => {
    const config = { host: 'web1', namespace: 'ns', concurrency } as AgentConfig;
    const replies = { send: (message: ReplyMessage, routingKey: string) => sent.push({ message, routingKey }) } as unknown as ReplyPublisher;
    return new InboxService(config, {} as BrokerService, journal, runner, replies, pino({ level: 'silent' }));
  };
  const command = (over: Partial<CommandMessage> = {}): CommandMessage => ({
    v: 1, kind: 'command', invocationId: `inv-${++seq}`, taskId: 't_1', host: 'web1', command: 'true',
    cwd: null, env: {}, timeoutMs: 10_000, killGraceMs: 100, issuedAt: Date.now(), expiresAt: Date.now() + 60_000, ...over,
  });
  const deliver = (target: InboxService, body: CommandMessage | Buffer, props: Record<string, unknown> = {}) => {
    const content = Buffer.isBuffer(body) ? body : encode(body);
    const id = Buffer.isBuffer(body) ? 'raw' : body.invocationId;
    const d = new FakeDelivery(content, { correlationId: id, replyTo: 'ns.results', messageId: 'm', ...props }, () => journal);
    target.handle(d as unknown as Delivery);
    return d;
  };
  const results = () => sent.filter((s) => s.message.kind === 'result').map((s) => s.message as ResultMessage);
  const started = () => sent.filter((s) => s.message.kind === 'started');

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-inbox-'));
    journal = InvocationJournal.open(dir);
    runner = new ProcessRunner({ baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, maxOutputBytes: 4096 });
    sent = [];
    inbox = make(2);
  });
  afterEach(async () => {
    await runner.killAll('test over');
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('journals each command before acking it, then runs it and replies started and result to reply_to', async () => {
    const c = command({ command: 'echo hi' });
    const d = deliver(inbox, c, { replyTo: 'custom.replies' });
    expect(d.settled).toBe('ack');
    expect(d.journaledAtAck).toBe(true);
    await until(() => results().length === 1);
    expect(sent.map((s) => [s.message.kind, s.routingKey])).toEqual([['started', 'custom.replies'], ['result', 'custom.replies']]);
    expect(results()[0]).toMatchObject({ invocationId: c.invocationId, taskId: 't_1', host: 'web1', state: 'succeeded', stdout: { data: 'hi\n' } });
  });

  it('replies to the results queue when reply_to is missing', async () => {
    deliver(inbox, command(), { replyTo: undefined });
    await until(() => results().length === 1);
    expect(sent.every((s) => s.routingKey === 'ns.results')).toBe(true);
  });

  it('runs at most `concurrency` commands at once; the rest wait unacked, in order', async () => {
    const ds = [1, 2, 3, 4].map(() => deliver(inbox, command({ command: 'sleep 0.3' })));
    expect(ds.map((d) => d.settled)).toEqual(['ack', 'ack', null, null]);
    expect(runner.running).toBe(2);
    expect(inbox.queued).toBe(2);
    await until(() => ds[2].settled === 'ack');
    expect(runner.running).toBeLessThanOrEqual(2);
    await until(() => results().length === 4);
    expect(results().every((r) => r.state === 'succeeded')).toBe(true);
  });

  it('never runs an invocation twice: a redelivery after it ran is acked and answered rejected', async () => {
    const c = command();
    deliver(inbox, c);
    await until(() => results().length === 1);
    const again = deliver(inbox, c);
    expect(again.settled).toBe('ack');
    expect(started()).toHaveLength(1);
    expect(results()[1]).toMatchObject({ invocationId: c.invocationId, state: 'rejected', reason: 'duplicate: already accepted' });
  });

  it('stays silent about a duplicate of an invocation that is still running', async () => {
    const c = command({ command: 'sleep 0.2' });
    deliver(inbox, c);
    expect(deliver(inbox, c).settled).toBe('ack');
    await until(() => results().length === 1);
    await sleep(50);
    expect(results()).toHaveLength(1);
    expect(results()[0].state).toBe('succeeded');
  });

  it('remembers accepted invocations across an agent restart', async () => {
    const c = command();
    deliver(inbox, c);
    await until(() => results().length === 1);
    journal.close();
    journal = InvocationJournal.open(dir);
    const restarted = make(2);
    deliver(restarted, c);
    expect(started()).toHaveLength(1);
    expect(results()[1]).toMatchObject({ state: 'rejected', reason: 'duplicate: already accepted' });
  });

  it('does not start a command whose expiry passed while it waited', async () => {
    const marker = join(dir, 'ran');
    const c = command({ command: `touch ${marker}`, issuedAt: Date.now() - 5000, expiresAt: Date.now() - 1 });
    const d = deliver(inbox, c);
    expect(d.settled).toBe('ack');
    expect(results()[0]).toMatchObject({ state: 'rejected', reason: 'expired before it could start' });
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(journal.has(c.invocationId)).toBe(false);
  });

  it('rejects malformed messages without requeue, answering only those that name an invocation', () => {
    expect(deliver(inbox, Buffer.from('{"v":1,')).settled).toBe('reject');
    expect(sent).toEqual([]);
    const wrongVersion = { ...command(), v: 2 };
    expect(deliver(inbox, Buffer.from(JSON.stringify(wrongVersion))).settled).toBe('reject');
    expect(results()[0]).toMatchObject({ invocationId: wrongVersion.invocationId, state: 'rejected', reason: 'unsupported protocol version 2' });
    expect(deliver(inbox, Buffer.from(JSON.stringify({ ...command(), v: 2 })), { replyTo: '' }).settled).toBe('reject');
    expect(results()).toHaveLength(1); // no sane reply_to: nobody to answer
  });

  it('rejects a command for another host and says so', () => {
    const c = command({ host: 'db1' });
    expect(deliver(inbox, c).settled).toBe('reject');
    expect(results()[0]).toMatchObject({ invocationId: c.invocationId, host: 'web1', state: 'rejected', reason: 'command is for host db1' });
    expect(runner.running).toBe(0);
  });

  it('drops a waiting command whose channel died, leaving it to the broker', async () => {
    const one = make(1);
    deliver(one, command({ command: 'sleep 0.1' }));
    const waiting = deliver(one, command());
    waiting.live = false;
    await until(() => results().length === 1);
    await sleep(50);
    expect(waiting.settled).toBeNull();
    expect(started()).toHaveLength(1);
  });

  it('on shutdown requeues waiting commands, then cancels those still running after the grace', async () => {
    const one = make(1);
    deliver(one, command({ command: 'sleep 30' }));
    const waiting = deliver(one, command());
    await one.stopTaking();
    expect(waiting.settled).toBe('requeue');
    expect(deliver(one, command()).settled).toBe('requeue'); // arrived after the cancel
    const t0 = Date.now();
    await one.drain(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(results()).toHaveLength(1);
    expect(results()[0]).toMatchObject({ state: 'cancelled', reason: 'agent shutting down' });
  });

  it('on shutdown lets a command finish within the grace', async () => {
    deliver(inbox, command({ command: 'sleep 0.2; echo ok' }));
    await inbox.stopTaking();
    await inbox.drain(5000);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'ok\n' } });
  });
});
