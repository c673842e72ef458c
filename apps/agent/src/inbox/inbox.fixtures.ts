import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Delivery } from '@warren/amqp';
import {
  type CommandMessage,
  encode,
  type FileChunkMessage,
  type OutputMessage,
  generateSigningKey,
  keyRing,
  type ReplyMessage,
  type ResultMessage,
  signBody,
} from '@warren/protocol';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { AgentIdentity } from '../identity/agent.identity';
import { InvocationJournal } from '../journal/invocation.journal';
import { parsePolicy } from '../policy/policy.loader';
import type { AgentPolicy } from '../policy/policy.types';
import { ChunkRouter } from '../transfer/chunk.router';
import { InboxService } from './inbox.service';
import type { ReplyPublisher } from './reply.publisher';

/** A delivery as the consumer hands it over, recording how it was settled. */
export class FakeDelivery {
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `fn` holds, checking every 10 ms; throws after `ms`. */
export async function until(fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/**
 * An agent's inbox on host `web1` over a real journal (in a temporary folder) and real processes,
 * with the replies it sends recorded. {@link useInboxHarness} sets it up and tears it down around each test.
 */
export class InboxHarness {
  dir = '';
  journal!: InvocationJournal;
  runner!: ProcessRunner;
  sent: { message: ReplyMessage; routingKey: string }[] = [];
  /** live output chunks; `at` = how many confirmed replies had been sent before each */
  live: { message: OutputMessage; routingKey: string; at: number }[] = [];
  /** true: confirms of `sendConfirmed` wait in {@link unconfirmed} until a test settles them */
  holdConfirms = false;
  unconfirmed: { id: string; kind: string; confirm: (ok: boolean) => void }[] = [];
  /** `fileChunk` replies of gets, in the order sent */
  chunksSent: { message: FileChunkMessage; routingKey: string }[] = [];
  /** an inbox running two commands at once */
  inbox!: InboxService;
  /** where the inbox's transfers register for their chunks (fed by tests with `chunks.handle`) */
  chunks!: ChunkRouter;
  private seq = 0;

  // The tests run as root, as a lab agent does: its policy allows that, and denies `reboot*`.
  policy: AgentPolicy = parsePolicy('allowRoot: true\ndeny: ["reboot*"]\n', 'lab.yaml', {
    agentMaxOutputBytes: 4096,
  });
  readonly controllerKey = generateSigningKey();
  readonly strangerKey = generateSigningKey();
  /** this agent's own key: commands are addressed to its fingerprint */
  readonly agentKey = generateSigningKey();
  private readonly identity = new AgentIdentity(this.agentKey, keyRing([this.controllerKey]), false);

  setUp = (): void => {
    this.dir = mkdtempSync(join(tmpdir(), 'warren-inbox-'));
    this.journal = InvocationJournal.open(this.dir);
    this.runner = new ProcessRunner({ baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, maxOutputBytes: 4096 });
    this.sent = [];
    this.live = [];
    this.chunksSent = [];
    this.holdConfirms = false;
    this.unconfirmed = [];
    this.inbox = this.make(2);
  };

  tearDown = async (): Promise<void> => {
    await this.runner.killAll('test over');
    this.journal.close();
    rmSync(this.dir, { recursive: true, force: true });
  };

  /** An inbox over the current journal and runner, running at most `concurrency` commands at once. */
  make = (concurrency: number): InboxService => {
    const config = {
      host: 'web1',
      namespace: 'ns',
      concurrency,
      clockSkewMs: 30_000,
      policy: this.policy,
      stateDir: this.dir,
    } as AgentConfig;
    const replies = {
      send: (message: ReplyMessage, routingKey: string) => this.sent.push({ message, routingKey }),
      sendConfirmed: (message: ReplyMessage, routingKey: string) => {
        this.sent.push({ message, routingKey });
        if (!this.holdConfirms) return new Promise<boolean>((r) => setImmediate(() => r(true)));
        return new Promise<boolean>((r) =>
          this.unconfirmed.push({ id: message.invocationId, kind: message.kind, confirm: r }),
        );
      },
      sendLive: (message: OutputMessage, routingKey: string) =>
        this.live.push({ message, routingKey, at: this.sent.length }),
      sendChunk: (message: FileChunkMessage, routingKey: string) => {
        this.chunksSent.push({ message, routingKey });
        return new Promise<boolean>((r) => setImmediate(() => r(true)));
      },
    } as unknown as ReplyPublisher;
    const log = pino({ level: 'silent' });
    this.chunks = new ChunkRouter(config, {} as BrokerService, log);
    return new InboxService(
      config,
      {} as BrokerService,
      this.journal,
      this.runner,
      replies,
      this.identity,
      log,
      new SystemClock(),
      this.chunks,
    );
  };

  /** A command for `web1` in `ns` (this agent's key) that `true`s, valid for a minute, each with its own invocation id. */
  command = (over: Partial<CommandMessage> = {}): CommandMessage => ({
    v: 1,
    kind: 'command',
    invocationId: `inv-${++this.seq}`,
    taskId: 't_1',
    host: 'web1',
    namespace: 'ns',
    agentKeyId: this.agentKey.keyId,
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
  deliver = (
    target: InboxService,
    body: CommandMessage | Buffer,
    props: Record<string, unknown> = {},
    opts: { key?: ReturnType<typeof generateSigningKey> | null } = {},
  ): FakeDelivery => {
    const content = Buffer.isBuffer(body) ? body : encode(body);
    const id = Buffer.isBuffer(body) ? 'raw' : body.invocationId;
    const key = opts.key === undefined ? this.controllerKey : opts.key;
    const headers = key ? signBody(content, key) : {};
    const d = new FakeDelivery(
      content,
      { correlationId: id, replyTo: 'ns.results', messageId: 'm', headers, ...props },
      () => this.journal,
    );
    target.handle(d as unknown as Delivery);
    return d;
  };

  /** the results sent so far, in order */
  results = (): ResultMessage[] =>
    this.sent.filter((s) => s.message.kind === 'result').map((s) => s.message as ResultMessage);

  /** the started replies sent so far */
  started = () => this.sent.filter((s) => s.message.kind === 'started');

  /** Reopens the journal from its folder, as an agent restart does. */
  reopenJournal = (): void => {
    this.journal.close();
    this.journal = InvocationJournal.open(this.dir);
  };
}

/** An {@link InboxHarness} set up afresh before each test of the calling `describe`, and torn down after it. */
export function useInboxHarness(): InboxHarness {
  const h = new InboxHarness();
  beforeEach(h.setUp);
  afterEach(h.tearDown);
  return h;
}
