import type { HostView } from '@warren/api';
import { Inject, Injectable } from '@nestjs/common';
import { Consumer } from '@warren/amqp';
import { LIMITS, type PresenceMessage } from '@warren/protocol';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { BoundedMap } from '../core/bounded.map';
import { type Heard, HeartbeatQueue, type HeardMessage } from './heartbeat.queue';
import { HeartbeatVerifier, MISSED_HEARTBEATS } from './heartbeat.verifier';
import { HostKeysStore } from './host-keys.store';
import { KeyOutcomeReporter } from './key-outcome.reporter';
import { sameLabels } from './labels.compare';
import { PRESENCE_STORE, type PresenceRecord, type PresenceStore } from './presence-store.port';
import { PresenceRecorder } from './presence.recorder';
import { ProtocolMismatchLog } from './protocol-mismatch.log';

/** What `GET /v1/hosts` shows of one agent: the contract's `HostView`. */
export type { HostView };

/** What the in-memory presence maps hold at most: twice the hosts of the largest task, each for a day unheard. */
const PRESENCE_BOUNDS = { maxEntries: 2 * LIMITS.hostsPerTask, ttlMs: 24 * 3600_000 };

/** Heartbeats read and not yet handled, at most (one per host and key): twice the hosts of the largest task. */
export const MAX_QUEUED_HEARTBEATS = 2 * LIMITS.hostsPerTask;
/** Heartbeats whose keys are recorded in one store transaction at most (and their audit records in one write). */
export const HEARTBEAT_BATCH = 500;
/** Heartbeats whose signature is checked in one turn of the event loop. */
const VERIFY_SLICE = 50;

/**
 * Known agents, from their presence heartbeats. Each heartbeat carries the agent's public key and
 * is signed with it; the key is recorded (see {@link HostKeysStore}) and, once accepted, a heartbeat
 * signed with any other key is not believed. A heartbeat counts only when its signed `sentAt` is
 * within the presence window of the controller's clock and newer than the newest one recorded for
 * its key (persisted with the key), so a captured one played again, even after a restart, shows no
 * dead host online. Presence is answered from memory and persisted behind the {@link PresenceStore}
 * (batched by the {@link PresenceRecorder}): every controller on one database reads every heartbeat
 * (its own queue on the presence fanout), and a controller that starts loads every host's last
 * record, so `warren hosts` lists the fleet at once, each host offline until heard within its
 * window. Targeting uses the labels accepted with a host's key, not those it announces now (see
 * {@link HostKeysStore}).
 */
@Injectable()
export class HostsRegistry {
  /** host → its last heartbeat; a host whose key is not accepted is forgotten after a day unheard, or first under a flood */
  private readonly hosts: BoundedMap<string, PresenceRecord>;
  private readonly recorder: PresenceRecorder;
  /** hosts loaded from the presence store at start and not heard since: offline, whatever their last-seen time */
  private readonly unheard = new Set<string>();
  private consumer: Consumer | null = null;
  /** heartbeats read and not yet handled: in batches, in the order read, the newest of each host and key only */
  private readonly queue: HeartbeatQueue;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly keys: HostKeysStore,
    private readonly config: ControllerConfig,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
    @Inject(PRESENCE_STORE) store: PresenceStore,
  ) {
    this.log = root.child({ component: 'presence' });
    this.verifier = new HeartbeatVerifier(this.log);
    this.recorder = new PresenceRecorder(store, this.log);
    this.hosts = new BoundedMap(clock, {
      ...PRESENCE_BOUNDS,
      keep: (host) => this.keys.isAccepted(host),
      onForget: (host) => {
        this.unheard.delete(host);
        this.recorder.forget(host);
      },
    });
    this.outcomes = new KeyOutcomeReporter(this.log, audit, clock, config.autoAccept, PRESENCE_BOUNDS);
    this.queue = new HeartbeatQueue({
      max: MAX_QUEUED_HEARTBEATS,
      maxBatch: HEARTBEAT_BATCH,
      handle: (batch) => this.receive(batch),
      log: this.log,
      clock,
    });
  }

  /** Loads every host's stored presence, then consumes heartbeats (AppModule calls it before connecting). */
  async start(): Promise<void> {
    await this.restore();
    this.consumer = new Consumer(this.broker.connection, {
      queue: this.broker.presenceQueue,
      prefetch: 200,
      logger: this.log,
      handler: (d) => {
        d.ack();
        this.heard(d);
      },
    });
    await this.consumer.start();
  }

  /** Loads every host's stored presence (oldest first, each as heard then) and starts the batched writes. */
  async restore(): Promise<void> {
    const stored = await this.recorder.load();
    for (const r of stored.sort((a, b) => a.receivedAt - b.receivedAt)) {
      this.hosts.set(r.host, r, r.receivedAt);
      this.unheard.add(r.host);
    }
    this.recorder.start();
  }

  /**
   * Queues a heartbeat read now (the presence consumer's handler, after its ack): handled in the
   * order read, a newer one of the same host and key replacing one still queued.
   */
  heard(m: HeardMessage): void {
    this.queue.push(m, this.clock.now());
  }

  /** Heartbeats read and not yet being handled (bounded: see {@link HeartbeatQueue}). */
  get queuedHeartbeats(): number {
    return this.queue.size;
  }

  /** Resolves once every heartbeat read so far is handled (tests). */
  heartbeatsHandled(): Promise<void> {
    return this.queue.drained();
  }

  /** Writes the presence heard so far now (tests; otherwise once a second). */
  flushPresence(): Promise<void> {
    return this.recorder.flush();
  }

  /**
   * Verifies a batch of heartbeats (each signed with the key it carries) and records them with their
   * keys: the keys in one store transaction, the audit records they bring in one write.
   */
  private async receive(batch: readonly Heard[]): Promise<void> {
    // Ed25519 checks (and key parsing) of up to 500 heartbeats: VERIFY_SLICE per turn of the event
    // loop, so that a burst of a fleet's first heartbeats does not hold /healthz and replies.
    const verified: NonNullable<ReturnType<HeartbeatVerifier['verify']>>[] = [];
    for (let i = 0; i < batch.length; i += VERIFY_SLICE) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const { m, at } of batch.slice(i, i + VERIFY_SLICE)) {
        const v = this.verifier.verify(m, at);
        if (v) verified.push(v);
      }
    }
    if (verified.length === 0) return;
    // A captured heartbeat (or goodbye) played again is not newer than the newest one of that key
    // the store has recorded (persisted, so across restarts too): the store ignores it.
    const seen = await this.keys.seenMany(
      verified.map(({ p, keyId }) => ({
        host: p.host,
        publicKey: p.publicKey,
        keyId,
        sentAt: p.sentAt,
        labels: p.labels,
      })),
      this.config.autoAccept,
    );
    const reported = verified.flatMap((v, i) => {
      const { result } = seen[i];
      const { p, at, keyId } = v;
      // Another controller on the database recorded this very heartbeat first: it is news here still.
      if (result === 'stale' && this.newHere(p, keyId)) {
        this.record(p, at, keyId);
        return [];
      }
      if (result === 'stale' || result === 'rejected') {
        this.log.debug(
          { host: p.host, keyId, sentAt: p.sentAt },
          result === 'stale' ? 'ignored a stale or replayed heartbeat' : 'ignored a heartbeat of a rejected key',
        );
        return [];
      }
      return [{ ...v, seen: seen[i] }];
    });
    const counts = await this.outcomes.reportMany(reported);
    reported.forEach(({ p, at, keyId }, i) => counts[i] && this.record(p, at, keyId));
  }

  /**
   * Whether a heartbeat the key store calls stale (not newer than the newest recorded for its key)
   * is newer than any this controller has recorded for the host (in memory, loaded from the
   * presence store at start) and signed by the host's accepted key, or by a key of a host with none
   * accepted: several controllers read every heartbeat, and only the first records its `sentAt`.
   * A replay is still ignored: it is not newer than what this controller has (or it is out of the
   * presence window, checked before).
   */
  private newHere(p: PresenceMessage, keyId: string): boolean {
    const mine = this.hosts.get(p.host);
    if (mine && p.sentAt <= mine.sentAt) return false;
    return this.keys.isAccepted(p.host) ? this.keys.acceptedKey(keyId)?.host === p.host : true;
  }

  private readonly outcomes: KeyOutcomeReporter;
  private readonly verifier: HeartbeatVerifier;

  /** heartbeats of agents whose protocol version this controller does not accept, counted and logged once per host */
  get mismatches(): ProtocolMismatchLog {
    return this.verifier.mismatches;
  }

  /** Records a heartbeat or goodbye received at `now`, verified with the key `keyId`. */
  record(p: PresenceMessage, now: number, keyId: string): void {
    const before = this.hosts.get(p.host);
    const wasOnline = before ? this.statusOf(before, now) === 'online' : false;
    const { host, status, labels, version, running, concurrency, intervalMs, sentAt } = p;
    const r: PresenceRecord = {
      host,
      keyId,
      status,
      labels,
      version,
      running,
      concurrency,
      intervalMs,
      sentAt,
      receivedAt: now,
    };
    this.hosts.set(p.host, r);
    this.unheard.delete(p.host);
    this.recorder.add(r);
    if (p.status === 'goodbye') this.log.info({ host: p.host }, 'agent said goodbye');
    else if (!wasOnline) this.log.info({ host: p.host, version: p.version, labels: p.labels }, 'agent online');
  }

  /**
   * True when the agent holding a host's accepted key is gone (goodbye, or 3 heartbeats missed)
   * while another key is announced for that name: most likely the host was reinstalled, and what
   * it would run could not be reported (its replies are not trusted). Commands are refused until
   * an operator accepts the new key. While the accepted key is still heard, an impostor announcing
   * a key for the name changes nothing.
   */
  acceptedKeyGone(host: string, now = this.clock.now()): boolean {
    const e = this.hosts.get(host);
    return !e || this.statusOf(e, now) === 'offline';
  }

  private statusOf(r: PresenceRecord, now: number): 'online' | 'offline' {
    if (r.status === 'goodbye' || this.unheard.has(r.host)) return 'offline';
    return now - r.receivedAt <= MISSED_HEARTBEATS * r.intervalMs ? 'online' : 'offline';
  }

  /** Hosts whose latest heartbeat says they are online now. */
  onlineHosts(now = this.clock.now()): PresenceRecord[] {
    return [...this.hosts.values()].filter((r) => this.statusOf(r, now) === 'online');
  }

  /** Every known host (heard by a controller on this database, not forgotten), with its last heartbeat. */
  known(): PresenceRecord[] {
    return [...this.hosts.values()];
  }

  /** What `GET /v1/hosts` shows: every known host with its presence and trust at `now`, by name. */
  async list(now = this.clock.now()): Promise<HostView[]> {
    const records = [...this.hosts.values()];
    const keys = await this.keys.views(records.map((r) => r.host));
    const views = records.map((r) => ({
      host: r.host,
      status: this.statusOf(r, now),
      ...this.labelsOf(r),
      version: r.version,
      running: r.status === 'goodbye' ? 0 : r.running,
      concurrency: r.concurrency,
      lastSeen: new Date(r.receivedAt).toISOString(),
      ...keys.get(r.host)!,
    }));
    return views.sort((a, b) => a.host.localeCompare(b.host));
  }

  /**
   * What targeting needs of every known host at `now`: its name, presence, the labels accepted with
   * its key, and whether a key is accepted. From memory only (no store read, as
   * {@link HostsRegistry.list} makes once), so a task among 20,000 known hosts resolves in milliseconds.
   */
  targets(
    now = this.clock.now(),
  ): { host: string; status: 'online' | 'offline'; labels: Record<string, string>; trusted: boolean }[] {
    return [...this.hosts.values()].map((r) => ({
      host: r.host,
      status: this.statusOf(r, now),
      labels: this.keys.acceptedLabels(r.host),
      trusted: this.keys.isAccepted(r.host),
    }));
  }

  /** The labels targeting uses (accepted with the key) and those the host announces beyond them. */
  private labelsOf(p: PresenceRecord): Pick<HostView, 'labels' | 'pendingLabels'> {
    const labels = this.keys.acceptedLabels(p.host);
    return { labels, pendingLabels: sameLabels(labels, p.labels) ? null : p.labels };
  }

  /** Closes the presence consumer (AppModule calls it at shutdown, see there). */
  async stop(): Promise<void> {
    await this.consumer?.close();
    await this.queue.stop();
    await this.recorder.stop(); // before the store closes (StoreModule closes last)
  }
}
