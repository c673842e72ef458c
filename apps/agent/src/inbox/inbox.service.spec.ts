import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Delivery } from '@warren/amqp';
import {
  type CommandMessage,
  encode,
  type OutputMessage,
  generateSigningKey,
  keyRing,
  type ReplyMessage,
  type ResultMessage,
  signBody,
} from '@warren/protocol';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { AgentIdentity } from '../identity/agent.identity';
import { InvocationJournal } from '../journal/invocation.journal';
import { parsePolicy } from '../policy/policy.loader';
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
  /** live output chunks; `at` = how many confirmed replies had been sent before each */
  let live: { message: OutputMessage; routingKey: string; at: number }[];
  let inbox: InboxService;
  let seq = 0;

  // The tests run as root, as a lab agent does: its policy allows that, and denies `reboot*`.
  const policy = parsePolicy('allowRoot: true\ndeny: ["reboot*"]\n', 'lab.yaml', { agentMaxOutputBytes: 4096 });
  const controllerKey = generateSigningKey();
  const strangerKey = generateSigningKey();
  const identity = new AgentIdentity(generateSigningKey(), keyRing([controllerKey]), false);
  const make = (concurrency: number) => {
    const config = { host: 'web1', namespace: 'ns', concurrency, clockSkewMs: 30_000, policy } as AgentConfig;
    const replies = {
      send: (message: ReplyMessage, routingKey: string) => sent.push({ message, routingKey }),
      sendLive: (message: OutputMessage, routingKey: string) => live.push({ message, routingKey, at: sent.length }),
    } as unknown as ReplyPublisher;
    const log = pino({ level: 'silent' });
    return new InboxService(config, {} as BrokerService, journal, runner, replies, identity, log, new SystemClock());
  };
  const command = (over: Partial<CommandMessage> = {}): CommandMessage => ({
    v: 1,
    kind: 'command',
    invocationId: `inv-${++seq}`,
    taskId: 't_1',
    host: 'web1',
    command: 'true',
    runAs: null,
    cwd: null,
    env: {},
    timeoutMs: 10_000,
    killGraceMs: 100,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    replyTo: 'ns.results',
    ...over,
  });
  /** Delivers `body` signed by the controller's key (or `opts.key`, or unsigned with `opts.key: null`). */
  const deliver = (
    target: InboxService,
    body: CommandMessage | Buffer,
    props: Record<string, unknown> = {},
    opts: { key?: typeof controllerKey | null } = {},
  ) => {
    const content = Buffer.isBuffer(body) ? body : encode(body);
    const id = Buffer.isBuffer(body) ? 'raw' : body.invocationId;
    const key = opts.key === undefined ? controllerKey : opts.key;
    const headers = key ? signBody(content, key) : {};
    const d = new FakeDelivery(
      content,
      { correlationId: id, replyTo: 'ns.results', messageId: 'm', headers, ...props },
      () => journal,
    );
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
    live = [];
    inbox = make(2);
  });
  afterEach(async () => {
    await runner.killAll('test over');
    journal.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('journals each command before acking it, then runs it and replies started and result to its signed replyTo', async () => {
    const c = command({ command: 'echo hi', replyTo: 'custom.replies' });
    const d = deliver(inbox, c, { replyTo: 'ignored.unsigned.reply-to' });
    expect(d.settled).toBe('ack');
    expect(d.journaledAtAck).toBe(true);
    await until(() => results().length === 1);
    expect(sent.map((s) => [s.message.kind, s.routingKey])).toEqual([
      ['started', 'custom.replies'],
      ['result', 'custom.replies'],
    ]);
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      taskId: 't_1',
      host: 'web1',
      state: 'succeeded',
      stdout: { data: 'hi\n' },
    });
  });

  it('streams output while the command runs, in order, to its replyTo, and sends the last chunk before the result', async () => {
    const c = command({ command: 'echo one; sleep 0.3; echo two >&2; echo three', replyTo: 'custom.replies' });
    deliver(inbox, c);
    await until(() => live.length >= 1);
    expect(results()).toHaveLength(0); // the first line arrived while the command still ran
    await until(() => results().length === 1);
    expect(
      live.every((l) => l.routingKey === 'custom.replies' && l.message.invocationId === c.invocationId && l.at === 1),
    ).toBe(true);
    expect(live.map((l) => l.message.seq)).toEqual(live.map((_, i) => i));
    const text = (stream: string) =>
      live
        .filter((l) => l.message.stream === stream)
        .map((l) => l.message.data)
        .join('');
    expect(text('stdout')).toBe(results()[0].stdout.data);
    expect(text('stderr')).toBe('two\n');
  });

  it('sends no live chunks for a command signed with live: false, and still the whole output in its result', async () => {
    const c = command({ command: 'echo one; sleep 0.2; echo two', live: false });
    deliver(inbox, c);
    await until(() => results().length === 1);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'one\ntwo\n' } });
    expect(live).toEqual([]);
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

  it('never runs an invocation twice: a replay after it ran (redelivered or not) is answered rejected with the first outcome', async () => {
    const c = command({ command: 'exit 3' });
    deliver(inbox, c);
    await until(() => results().length === 1);
    const again = deliver(inbox, c);
    expect(again.redelivered).toBe(false);
    expect(again.settled).toBe('ack');
    expect(started()).toHaveLength(1);
    expect(results()[1]).toMatchObject({ invocationId: c.invocationId, state: 'rejected', code: 'replay' });
    expect(results()[1].reason).toMatch(/^replay: this invocation already ran \(failed, exit 3, finished /);
  });

  it('answers a replay of an invocation that is still running, or still waiting, without running it again', async () => {
    const one = make(1);
    const c = command({ command: 'sleep 0.3' });
    const waitingOne = command();
    deliver(one, c);
    deliver(one, waitingOne);
    expect(deliver(one, c).settled).toBe('ack');
    expect(deliver(one, waitingOne).settled).toBe('ack');
    expect(results().map((r) => [r.invocationId, r.code, r.reason])).toEqual([
      [c.invocationId, 'replay', 'replay: this invocation is running now; not run again'],
      [waitingOne.invocationId, 'replay', 'replay: this invocation is already queued here; not run again'],
    ]);
    await until(() => results().length === 4);
    expect(started()).toHaveLength(2);
  });

  it('rejects, never runs and answers on the default route: unsigned, untrusted key, bad signature', async () => {
    const marker = join(dir, 'ran');
    const c = command({ command: `touch ${marker}`, replyTo: 'attacker.route' });
    const body = encode(c);
    const unsigned = deliver(inbox, c, {}, { key: null });
    const stranger = deliver(inbox, c, {}, { key: strangerKey });
    // a signature made over other bytes, presented with the trusted key's id
    const otherBytes = signBody(encode({ ...c, command: 'true' }), controllerKey);
    const forged = new FakeDelivery(body, { correlationId: c.invocationId, headers: otherBytes }, () => journal);
    inbox.handle(forged as unknown as Delivery);
    expect([unsigned.settled, stranger.settled, forged.settled]).toEqual(['reject', 'reject', 'reject']);
    expect(results().map((r) => [r.code, r.state, r.invocationId, r.taskId])).toEqual([
      ['unsigned', 'rejected', c.invocationId, 'unknown'],
      ['untrusted_key', 'rejected', c.invocationId, 'unknown'],
      ['bad_signature', 'rejected', c.invocationId, 'unknown'],
    ]);
    expect(sent.every((x) => x.routingKey === 'ns.results')).toBe(true);
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(journal.has(c.invocationId)).toBe(false);
  });

  it('rejects a command the local policy denies, even with a valid signature, and never runs it', async () => {
    const c = command({ command: 'reboot now' });
    expect(deliver(inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      state: 'rejected',
      code: 'policy',
      reason: 'policy: command matches deny pattern "reboot*"',
    });
    expect(started()).toHaveLength(0);
    expect(journal.has(c.invocationId)).toBe(false);
  });

  it('rejects a command issued too far in the future', async () => {
    const c = command({ issuedAt: Date.now() + 120_000, expiresAt: Date.now() + 180_000 });
    expect(deliver(inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({ state: 'rejected', code: 'not_yet_valid' });
    expect(started()).toHaveLength(0);
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
    expect(results()[1]).toMatchObject({ state: 'rejected', code: 'replay' });
    expect(results()[1].reason).toContain('already ran (succeeded, exit 0');
  });

  it('does not start a command whose expiry passed while it waited', async () => {
    const marker = join(dir, 'ran');
    const c = command({ command: `touch ${marker}`, issuedAt: Date.now() - 95_000, expiresAt: Date.now() - 31_000 });
    const d = deliver(inbox, c);
    expect(d.settled).toBe('ack');
    expect(results()[0]).toMatchObject({ state: 'rejected', code: 'expired' });
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(journal.has(c.invocationId)).toBe(false);
  });

  it('rejects signed but malformed messages without requeue, answering with the correlation id', () => {
    expect(deliver(inbox, Buffer.from('{"v":1,'), { correlationId: 'inv-x' }).settled).toBe('reject');
    const wrongVersion = { ...command(), v: 2 };
    expect(
      deliver(inbox, Buffer.from(JSON.stringify(wrongVersion)), { correlationId: wrongVersion.invocationId }).settled,
    ).toBe('reject');
    expect(results().map((r) => [r.invocationId, r.code, r.reason])).toEqual([
      ['inv-x', 'malformed', 'body is not valid JSON'],
      [wrongVersion.invocationId, 'malformed', 'unsupported protocol version 2'],
    ]);
  });

  it('rejects a command for another host and says so', () => {
    const c = command({ host: 'db1' });
    expect(deliver(inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      host: 'web1',
      state: 'rejected',
      code: 'wrong_host',
      reason: 'wrong host: the command is for db1, this is web1',
    });
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

  it('cancel kills a running command, dequeues a waiting one, and bars one not yet arrived from ever running', async () => {
    const one = make(1);
    const marker = join(dir, 'barred-ran');
    const running = command({ command: 'sleep 30', killGraceMs: 200 });
    const waiting = command({ command: `touch ${marker}` });
    const later = command({ command: `touch ${marker}` });
    deliver(one, running);
    const w = deliver(one, waiting);
    expect(w.settled).toBeNull();
    const outcome = one.cancel({
      taskId: 't_1',
      invocationIds: [running.invocationId, waiting.invocationId, later.invocationId],
      expiresAt: Date.now() + 60_000,
      replyTo: 'ns.results',
      requestedBy: 'alice',
    });
    expect(outcome).toEqual({
      [running.invocationId]: 'killed',
      [waiting.invocationId]: 'dequeued',
      [later.invocationId]: 'barred',
    });
    expect(w.settled).toBe('ack');
    await until(() => results().length === 2);
    expect(results().map((r) => [r.invocationId, r.state, r.reason])).toEqual(
      expect.arrayContaining([
        [waiting.invocationId, 'cancelled', 'cancelled by alice'],
        [running.invocationId, 'cancelled', 'cancelled by alice'],
      ]),
    );
    // The barred one arrives after the cancel (even after a restart): never run.
    journal.close();
    journal = InvocationJournal.open(dir);
    const restarted = make(1);
    expect(deliver(restarted, later).settled).toBe('ack');
    expect(results().at(-1)).toMatchObject({ invocationId: later.invocationId, state: 'rejected', code: 'replay' });
    expect(results().at(-1)!.reason).toMatch(/cancelled before it started/);
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(started()).toHaveLength(1);
  });

  it('on shutdown lets a command finish within the grace', async () => {
    deliver(inbox, command({ command: 'sleep 0.2; echo ok' }));
    await inbox.stopTaking();
    await inbox.drain(5000);
    expect(results()[0]).toMatchObject({ state: 'succeeded', stdout: { data: 'ok\n' } });
  });
});
