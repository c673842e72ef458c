import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { REJECT_CODES, type RejectCode, TERMINAL_STATES } from '@warren/protocol';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AppliedChange, StoreActivity } from '../store/task-store.port';

/** What the gauges read at scrape time; bound by {@link MetricsSources} once those exist. */
export interface ScrapeSources {
  /** rejects when the store cannot be read: the scrape then fails, rather than showing made-up numbers */
  activity(): Promise<StoreActivity>;
  hosts(): { online: number; offline: number };
  brokerConnected(): boolean;
  /** messages ready in the results queue, or null when the broker cannot be asked now */
  resultsQueueDepth(): Promise<number | null>;
  /** requests whose costly glob matching runs now (0 or 1) and waits for its turn */
  globMatching(): { running: number; waiting: number };
  /** event streams (SSE) served now, the cap `--max-event-streams`, and those refused since start */
  eventStreams(): { open: number; max: number; refused: number };
  /** heartbeats dropped since start because their agent speaks a protocol version this controller does not accept */
  heartbeatsWrongProtocol(): number;
}

/** Why the controller dropped a reply without reading it. */
export const REPLY_REJECT_REASONS = [
  'untrusted_key',
  'bad_signature',
  'malformed',
  'wrong_host',
  'protocol_version',
] as const;
export type ReplyRejectReason = (typeof REPLY_REJECT_REASONS)[number];

/**
 * Publish times kept for the publish-to-result histogram. Every invocation reaches a terminal
 * state (deadlines see to it) and leaves the map then; the bound only matters if a burst of
 * tasks outruns its results, and then the oldest are forgotten (not observed) first.
 */
const MAX_TRACKED_PUBLISHES = 100_000;

/** s; a confirm is a broker round trip plus an fsync for persistent messages */
const CONFIRM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** s; dominated by how long the command runs */
const RESULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

const TERMINAL = [...TERMINAL_STATES];

/**
 * The controller's Prometheus metrics, in a registry of its own (not prom-client's global one, so
 * that several controllers can live in one test process). Counters and histograms are fed by the
 * code that sees the event; gauges are read from {@link ScrapeSources} when scraped.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private sources: ScrapeSources | null = null;
  /** invocation id → performance.now() at its publish */
  private readonly publishedAt = new Map<string, number>();
  private brokerEverConnected = false;

  private readonly invocationsTotal = new Counter({
    name: 'warren_invocations_total',
    help: 'Invocations that reached each terminal state (an undelivered or lost one the agent later reports counts again under its real outcome).',
    labelNames: ['state'],
    registers: [this.registry],
  });
  private readonly publishConfirm = new Histogram({
    name: 'warren_publish_confirm_seconds',
    help: "Time from publishing a command to the broker's confirm of it.",
    buckets: CONFIRM_BUCKETS,
    registers: [this.registry],
  });
  private readonly publishToResult = new Histogram({
    name: 'warren_publish_to_result_seconds',
    help: "Time from publishing a command to storing the agent's result for it (commands published by this controller process).",
    buckets: RESULT_BUCKETS,
    registers: [this.registry],
  });
  private readonly repliesRejected = new Counter({
    name: 'warren_replies_rejected_total',
    help: 'Replies the controller dropped unread: not signed by an accepted agent key, bad signature, malformed, speaking for another host, or of a protocol version it does not accept.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly agentRejections = new Counter({
    name: 'warren_agent_rejections_total',
    help: 'Commands agents answered as rejected, by reject code.',
    labelNames: ['code'],
    registers: [this.registry],
  });
  private readonly fileChunksPublished = new Counter({
    name: 'warren_file_chunks_published_total',
    help: 'Chunks of files published to agents (one publish reaches up to 200 hosts through the BCC header).',
    registers: [this.registry],
  });
  private readonly fetchedChunksStored = new Counter({
    name: 'warren_fetched_chunks_stored_total',
    help: 'Chunks of fetched files (warren fetch) verified and stored.',
    registers: [this.registry],
  });
  private readonly brokerReconnects = new Counter({
    name: 'warren_broker_reconnects_total',
    help: 'Times the broker connection was re-established after being lost.',
    registers: [this.registry],
  });
  private readonly brokerConnectFailures = new Counter({
    name: 'warren_broker_connect_failures_total',
    help: 'Failed attempts to connect to the broker (each is retried with backoff).',
    registers: [this.registry],
  });

  private readonly active: Gauge<'state'> = new Gauge({
    name: 'warren_invocations',
    help: 'Invocations not yet finished, by state.',
    labelNames: ['state'],
    registers: [this.registry],
    collect: async () => {
      const a = await this.sources?.activity();
      if (!a) return;
      this.active.set({ state: 'pending' }, a.pending);
      this.active.set({ state: 'running' }, a.running);
    },
  });
  private readonly tasksRunning: Gauge = new Gauge({
    name: 'warren_tasks_running',
    help: 'Tasks with at least one invocation pending or running.',
    registers: [this.registry],
    collect: async () => {
      const a = await this.sources?.activity();
      if (a) this.tasksRunning.set(a.tasksRunning);
    },
  });
  private readonly hosts: Gauge<'status'> = new Gauge({
    name: 'warren_hosts',
    help: 'Agents seen since this controller started, by presence status.',
    labelNames: ['status'],
    registers: [this.registry],
    collect: () => {
      const h = this.sources?.hosts();
      if (!h) return;
      this.hosts.set({ status: 'online' }, h.online);
      this.hosts.set({ status: 'offline' }, h.offline);
    },
  });
  private readonly globMatching: Gauge<'state'> = new Gauge({
    name: 'warren_glob_matching_requests',
    help: 'Requests whose costly glob matching (one at a time) runs now or waits for its turn, by state.',
    labelNames: ['state'],
    registers: [this.registry],
    collect: () => {
      const g = this.sources?.globMatching();
      if (!g) return;
      this.globMatching.set({ state: 'running' }, g.running);
      this.globMatching.set({ state: 'waiting' }, g.waiting);
    },
  });
  private readonly eventStreams: Gauge = new Gauge({
    name: 'warren_event_streams',
    help: 'Event streams (GET /v1/tasks/:id/events) this controller serves now; each holds a broker channel.',
    registers: [this.registry],
    collect: () => {
      const e = this.sources?.eventStreams();
      if (e) this.eventStreams.set(e.open);
    },
  });
  private readonly eventStreamsLimit: Gauge = new Gauge({
    name: 'warren_event_streams_limit',
    help: 'The cap on event streams (--max-event-streams): past it new ones are answered 503.',
    registers: [this.registry],
    collect: () => {
      const e = this.sources?.eventStreams();
      if (e) this.eventStreamsLimit.set(e.max);
    },
  });
  private readonly eventStreamsRefused: Counter = new Counter({
    name: 'warren_event_streams_refused_total',
    help: 'Event streams refused with 503 because --max-event-streams were open.',
    registers: [this.registry],
    collect: () => {
      const e = this.sources?.eventStreams();
      if (!e) return;
      this.eventStreamsRefused.reset();
      this.eventStreamsRefused.inc(e.refused);
    },
  });
  private readonly heartbeatsWrongProtocol: Counter = new Counter({
    name: 'warren_heartbeats_wrong_protocol_total',
    help: 'Heartbeats dropped because their agent speaks a protocol version this controller does not accept (each host is logged once).',
    registers: [this.registry],
    collect: () => {
      const n = this.sources?.heartbeatsWrongProtocol();
      if (n === undefined) return;
      this.heartbeatsWrongProtocol.reset();
      this.heartbeatsWrongProtocol.inc(n);
    },
  });
  private readonly publishPacedSeconds = new Counter({
    name: 'warren_publish_paced_seconds_total',
    help: 'Seconds task dispatches waited for the broker to confirm commands before publishing more (MAX_UNCONFIRMED per task): above zero, the broker is the pace.',
    registers: [this.registry],
  });
  private readonly brokerUp: Gauge = new Gauge({
    name: 'warren_broker_connected',
    help: 'Whether the controller is connected to the broker (1) or not (0).',
    registers: [this.registry],
    collect: () => this.brokerUp.set(this.sources?.brokerConnected() ? 1 : 0),
  });
  private readonly resultsQueue: Gauge = new Gauge({
    name: 'warren_results_queue_messages',
    help: 'Replies waiting in the results queue beyond what the controller has taken (its lag); absent while the broker cannot be asked.',
    registers: [this.registry],
    collect: async () => {
      const n = this.sources ? await this.sources.resultsQueueDepth() : null;
      // No sample rather than a stale or made-up one: "unknown" is not "empty".
      if (n === null) this.resultsQueue.remove();
      else this.resultsQueue.set(n);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'warren_controller_' });
    // Every series exists from the start, so that rate() and absent-means-zero alerts work at once.
    for (const state of TERMINAL) this.invocationsTotal.inc({ state }, 0);
    for (const reason of REPLY_REJECT_REASONS) this.repliesRejected.inc({ reason }, 0);
    for (const code of REJECT_CODES) this.agentRejections.inc({ code }, 0);
  }

  /** Binds the scrape-time readers (once, at start-up). */
  bind(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Publishes via `publish`, timing it to its confirm, and remembers when for the publish-to-result histogram. */
  timePublish(invocationId: string, publish: () => Promise<void>): Promise<void> {
    const start = performance.now();
    if (this.publishedAt.size >= MAX_TRACKED_PUBLISHES) this.publishedAt.delete(this.publishedAt.keys().next().value!);
    this.publishedAt.set(invocationId, start);
    return publish().then(() => this.publishConfirm.observe((performance.now() - start) / 1000));
  }

  /** Counts what the store applied (called after its transaction committed); never throws. */
  invocationsChanged(changes: readonly AppliedChange[]): void {
    const now = performance.now();
    for (const c of changes) {
      if (!TERMINAL_STATES.has(c.state)) continue;
      this.invocationsTotal.inc({ state: c.state });
      const start = this.publishedAt.get(c.invocationId);
      if (start === undefined) continue;
      this.publishedAt.delete(c.invocationId);
      // Only the agent's own answer measures the round trip; a verdict measures a deadline.
      if (c.kind === 'result') this.publishToResult.observe((now - start) / 1000);
    }
  }

  /** A dispatch waited `seconds` for confirms before publishing more commands. */
  publishPaced(seconds: number): void {
    this.publishPacedSeconds.inc(seconds);
  }

  replyRejected(reason: ReplyRejectReason): void {
    this.repliesRejected.inc({ reason });
  }

  /** `n` publishes of file chunks were confirmed by the broker. */
  chunksPublished(n = 1): void {
    this.fileChunksPublished.inc(n);
  }

  /** A chunk of a fetched file was stored. */
  fetchedChunkStored(): void {
    this.fetchedChunksStored.inc();
  }

  /** An agent answered `rejected`; `code` is absent only from agents older than reject codes. */
  agentRejected(code: RejectCode | undefined): void {
    this.agentRejections.inc({ code: code ?? 'none' });
  }

  /** The broker connection came up: the first time is a connect, every later one a reconnect. */
  brokerConnectedEvent(): void {
    if (this.brokerEverConnected) this.brokerReconnects.inc();
    this.brokerEverConnected = true;
  }

  brokerConnectFailed(): void {
    this.brokerConnectFailures.inc();
  }
}
