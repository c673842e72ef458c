import type { HostTrust } from '@warren/api';
import type { KeyObject } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { KEY_FINGERPRINT_PATTERN } from '@warren/protocol';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { HostKeyError } from '../errors/errors';
import { AcceptedKeys } from './accepted-keys';
import {
  HOST_KEY_REPOSITORY,
  type HostKeyRecord,
  type HostKeyRepository,
  type Labels,
  type PreAcceptedKey,
} from './host-keys.port';
import {
  type AcceptOutcome,
  DEFAULT_HOST_KEY_BOUNDS,
  HOST_KEY_BOUNDS,
  type HostKeyBounds,
  type HostKeyView,
  type Seen,
  type Sighting,
} from './host-keys.types';
import { sameLabels } from './labels.compare';

export * from './host-keys.types';

/**
 * The agents' public keys, persisted with the tasks: an agent's replies are stored only when they
 * are signed by its accepted key, so a host that merely publishes on the replies exchange cannot
 * write another host's results. A key is recorded `pending` on first sight and accepted by an
 * operator (`warren hosts accept <host>`), or at once with `--auto-accept`, as Salt does with
 * minion keys; `warren hosts reject` forgets a pending key for good. Accepting a new key for a host
 * retires the old one. Pending keys are bounded: one not heard within the TTL expires, and a key
 * heard now always finds room by evicting the least recently heard. A key an operator names that
 * is not pending (evicted by a flood of junk keys, or not heard yet) is pre-accepted: the host's
 * next heartbeat signed by it makes it the accepted key, and junk cannot evict it meanwhile. The
 * labels a key announces are accepted with it; a later change of them is used for targeting only
 * once accepted too. The keys
 * are persisted behind the {@link HostKeyRepository}; the accepted ones are also held here, since
 * every reply is checked against them.
 */
@Injectable()
export class HostKeysStore implements OnModuleInit {
  private readonly accepted = new AcceptedKeys();
  /**
   * host → the last key change under way. Each change reads the cache, writes the store, then the
   * cache: two changes of one host (two accepts, an accept and a batch of heartbeats holding it) run
   * one after the other, so neither decides on what the other is about to change.
   */
  private readonly changing = new Map<string, Promise<unknown>>();
  private readonly bounds: HostKeyBounds;
  /** told the host of each key change made here (other controllers on the database then {@link reload} it) */
  private readonly changeListeners = new Set<(host: string) => void>();

  constructor(
    @Inject(HOST_KEY_REPOSITORY) private readonly repo: HostKeyRepository,
    private readonly clock: Clock,
    @Optional() @Inject(HOST_KEY_BOUNDS) bounds?: HostKeyBounds,
    /** where a key cache read that failed after a commit is said (none in unit tests) */
    @Optional() @Inject(ROOT_LOGGER) private readonly log?: Logger,
  ) {
    this.bounds = bounds ?? DEFAULT_HOST_KEY_BOUNDS;
  }

  /** Loads the accepted keys (Nest calls it before the consumers start, so no reply is judged without them). */
  async onModuleInit(): Promise<void> {
    for (const r of await this.repo.listAccepted()) this.accepted.set(r.host, r.keyId, r.publicKey, r.acceptedLabels);
  }

  /**
   * Records a key a host announced (its heartbeat was verified with that very key), with the
   * heartbeat's signed `sentAt` (ms; undefined: no replay check) and labels: {@link seenMany} of one.
   */
  async seen(
    host: string,
    publicKey: string,
    keyId: string,
    autoAccept: boolean,
    heard: { sentAt?: number; labels?: Labels } = {},
  ): Promise<Seen> {
    const [out] = await this.seenMany([{ host, publicKey, keyId, ...heard }], autoAccept);
    return out;
  }

  /**
   * Records the keys a batch of heartbeats announced (each verified with the key it announces), in
   * one transaction of the repository, each as if recorded alone in the order given: returns what
   * each means, and the pending keys evicted to make room for a new one. The batch waits for the
   * changes under way of each of its hosts, and an accept or reject of one of them waits for the
   * batch. `autoAccept`: `--auto-accept` (a first key of a host without one is accepted while the
   * accepted hosts are fewer than the bound). Rejects, recording none of them, when the store fails.
   */
  seenMany(sightings: readonly Sighting[], autoAccept: boolean): Promise<Seen[]> {
    return this.changed(
      sightings.map((s) => s.host),
      async () => {
        const seen = await this.record(sightings, autoAccept);
        const changed = sightings.filter(
          (_, i) => seen[i].result === 'pre-accepted' || seen[i].result === 'auto-accepted',
        );
        return { out: seen, changed: changed.map((s) => s.host) };
      },
    );
  }

  private async record(sightings: readonly Sighting[], autoAccept: boolean): Promise<Seen[]> {
    const now = this.clock.now();
    const outcomes = await this.repo.recordSeenMany(
      sightings.map(({ host, keyId, publicKey, sentAt, labels }) => ({
        key: { host, keyId, publicKey },
        opts: {
          accept: autoAccept && !this.accepted.of(host),
          at: now,
          sentAt,
          labels: labels ?? {},
          maxPendingPerHost: this.bounds.maxPendingPerHost,
          maxPending: this.bounds.maxPending,
          pendingHeardSince: now - this.bounds.pendingKeyTtlMs,
        },
      })),
      { maxAutoAccepted: Math.max(0, this.bounds.maxAutoAccepted - this.accepted.size) },
    );
    /** hosts whose key another controller accepted: read again once the cache holds the rest */
    const reload: string[] = [];
    const seen = outcomes.map((outcome, i) => {
      const { seen, reload: again } = this.accepted.apply(sightings[i], outcome);
      if (again) reload.push(sightings[i].host);
      return seen;
    });
    // After the commit: a failed read must not fail the batch (its keys, audit and presence stand);
    // the cache of that host is read again at the next reload (reloadAll, the changes relay).
    for (const host of reload)
      await this.reloadNow(host).catch((err: Error) =>
        this.log?.warn({ host, err: err.message }, 'key accepted through another controller not read yet'),
      );
    return seen;
  }

  /**
   * Accepts a host's pending key (the only one, or the one named by `keyId`, which may also be a
   * key rejected earlier) with the labels it last announced, retiring the key it replaces; or, when
   * the host has no pending key and its accepted key announces other labels than the accepted ones,
   * accepts those labels. A named key not heard lately (evicted by junk, or not yet heard: the agent
   * logs its fingerprint at start) is pre-accepted: its first heartbeat for this host makes it the
   * accepted key (the one accepted until then stays so until that heartbeat). Throws
   * {@link HostKeyError} when there is nothing (unambiguous) to accept, or `keyId` is no fingerprint.
   */
  accept(host: string, keyId: string | undefined, by: string): Promise<AcceptOutcome> {
    return this.changed([host], async () => ({ out: await this.acceptNow(host, keyId, by), changed: [host] }));
  }

  private async acceptNow(host: string, keyId: string | undefined, by: string): Promise<AcceptOutcome> {
    const rows = await this.repo.keysOf(host, this.pendingHeardSince());
    const current = rows.find((r) => r.status === 'accepted');
    if (current && (keyId === undefined || keyId === current.keyId) && !this.labelsAccepted(current)) {
      if (keyId !== undefined || !rows.some((r) => r.status === 'pending')) {
        await this.repo.acceptLabels(host, current.keyId, current.labels);
        this.accepted.setLabels(host, current.keyId, current.labels);
        return { keyId: current.keyId, replaced: null, labels: current.labels, accepted: 'labels' };
      }
    }
    const pick = await this.pickPending(host, rows, keyId, 'accept');
    if (!pick) return this.preAccept(host, keyId as string, by);
    const replaced = this.accepted.of(host)?.keyId ?? null;
    if (!(await this.repo.accept(host, pick.keyId, by, this.clock.now()))) return this.preAccept(host, pick.keyId, by);
    this.accepted.set(host, pick.keyId, pick.publicKey, pick.labels);
    return { keyId: pick.keyId, replaced, labels: pick.labels, accepted: 'key' };
  }

  private async preAccept(host: string, keyId: string, by: string): Promise<AcceptOutcome> {
    if (!KEY_FINGERPRINT_PATTERN.test(keyId))
      throw new HostKeyError(
        `host ${host} has no pending key ${keyId}, and it is not a key fingerprint to pre-accept (SHA256:…, as the agent logs it at start)`,
      );
    const replaced = this.accepted.of(host)?.keyId ?? null;
    if (keyId === replaced) throw new HostKeyError(`key ${keyId} is already accepted for host ${host}`);
    await this.repo.preAccept(host, keyId, by, this.clock.now());
    return { keyId, replaced, labels: {}, accepted: 'pre-accepted' };
  }

  /**
   * Rejects a host's pending key (the only one, or the one named by `keyId`): it is forgotten, and
   * its heartbeats are ignored from then on (`warren hosts accept --key` still takes it back); or
   * withdraws the key pre-accepted for the host when `keyId` names it (`preAccepted`: true).
   * Throws {@link HostKeyError} when there is nothing (unambiguous) to reject.
   */
  reject(host: string, keyId: string | undefined, by: string): Promise<{ keyId: string; preAccepted: boolean }> {
    return this.changed<{ keyId: string; preAccepted: boolean }>([host], async () => {
      const rows = await this.repo.keysOf(host, this.pendingHeardSince());
      const pick = await this.pickPending(host, rows, keyId, 'reject');
      if (pick) {
        await this.repo.reject(host, pick.keyId, by, this.clock.now());
        return { out: { keyId: pick.keyId, preAccepted: false }, changed: [host] };
      }
      const named = keyId as string;
      if (await this.repo.withdrawPreAccepted(host, named))
        return { out: { keyId: named, preAccepted: true }, changed: [host] };
      throw new HostKeyError(`host ${host} has no pending key ${named}`);
    });
  }

  /** Calls `listener` with the host of every key change made through this store; returns the unsubscribe. */
  onChanged(listener: (host: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Runs a change of `hosts` {@link oneAtATime}, telling the listeners of each host it says it changed. */
  private async changed<T>(
    hosts: readonly string[],
    change: () => Promise<{ out: T; changed: readonly string[] }>,
  ): Promise<T> {
    const { out, changed } = await this.oneAtATime(hosts, change);
    for (const host of changed) for (const l of this.changeListeners) l(host);
    return out;
  }

  /** Reads `host`'s accepted key again from the repository (another controller on the database changed it). */
  reload(host: string): Promise<void> {
    return this.oneAtATime([host], () => this.reloadNow(host));
  }

  private async reloadNow(host: string): Promise<void> {
    const rows = await this.repo.keysOf(host, this.pendingHeardSince());
    this.accepted.sync(
      host,
      rows.find((r) => r.status === 'accepted'),
    );
  }

  /** Reads every accepted key again: the safety net should an announcement from another controller be lost. */
  async reloadAll(): Promise<void> {
    for (const host of this.accepted.stale(await this.repo.listAccepted())) await this.reload(host);
  }

  /**
   * The pending key to accept or reject: the only one, or the one named; a named rejected key too,
   * to accept. Null when the key named is neither (a key to pre-accept, or to withdraw).
   */
  private async pickPending(
    host: string,
    rows: HostKeyRecord[],
    keyId: string | undefined,
    verb: 'accept' | 'reject',
  ): Promise<Pick<HostKeyRecord, 'keyId' | 'publicKey' | 'labels'> | null> {
    const pending = rows.filter((r) => r.status === 'pending');
    if (keyId) {
      const named = pending.find((r) => r.keyId === keyId);
      const back = named || verb === 'reject' ? null : await this.repo.rejectedKey(host, keyId);
      return named ?? (back ? { ...back, labels: {} } : null);
    }
    if (pending.length === 1) return pending[0];
    if (pending.length === 0) {
      const current = this.accepted.of(host)?.keyId;
      throw new HostKeyError(
        current ? `host ${host} has no pending key (accepted: ${current})` : `no agent has announced host ${host}`,
      );
    }
    throw new HostKeyError(
      `host ${host} has ${pending.length} pending keys (${pending.map((r) => r.keyId).join(', ')}); name one with keyId`,
    );
  }

  /**
   * Runs `change` after every earlier change of each of `hosts` has settled (whether it succeeded or
   * not); a later change of any of them waits for this one.
   */
  private oneAtATime<T>(hosts: readonly string[], change: () => Promise<T>): Promise<T> {
    const unique = [...new Set(hosts)];
    // Each tail settles (never rejects) once its change has.
    const earlier = unique.flatMap((h) => this.changing.get(h) ?? []);
    const run = Promise.all(earlier).then(change, change);
    const tail = run.catch(() => undefined);
    for (const h of unique) this.changing.set(h, tail);
    void tail.then(() => {
      for (const h of unique) if (this.changing.get(h) === tail) this.changing.delete(h);
    });
    return run;
  }

  /** The host whose accepted key has this fingerprint, with the key; null if none. */
  acceptedKey(keyId: string): { host: string; key: KeyObject } | null {
    return this.accepted.key(keyId);
  }

  /** The labels accepted with the host's key, which targeting uses; {} when no key (or none yet) is accepted. */
  acceptedLabels(host: string): Labels {
    return this.accepted.of(host)?.labels ?? {};
  }

  /** Where a host stands. */
  async view(host: string): Promise<HostKeyView> {
    const rows = await this.repo.keysOf(host, this.pendingHeardSince());
    return this.viewOf(
      host,
      rows.filter((r) => r.status === 'pending').map((r) => r.keyId),
    );
  }

  /**
   * Where each of `hosts` stands, from one read of the store (`GET /v1/hosts` at 10,000 hosts would
   * otherwise ask it 10,000 times): host → its view, as {@link view} gives it.
   */
  async views(hosts: Iterable<string>): Promise<Map<string, HostKeyView>> {
    const pending = new Map<string, string[]>();
    for (const r of await this.repo.listKeys(this.pendingHeardSince())) {
      if (r.status !== 'pending') continue;
      const ids = pending.get(r.host);
      if (ids) ids.push(r.keyId);
      else pending.set(r.host, [r.keyId]);
    }
    const out = new Map<string, HostKeyView>();
    for (const host of hosts) out.set(host, this.viewOf(host, pending.get(host) ?? []));
    return out;
  }

  /** A host's view from its pending keys (in the order first heard) and the accepted key in memory. */
  private viewOf(host: string, pendingKeyIds: string[]): HostKeyView {
    const accepted = this.accepted.of(host)?.keyId ?? null;
    const trust: HostTrust = accepted
      ? pendingKeyIds.length > 0
        ? 'changed'
        : 'accepted'
      : pendingKeyIds.length > 0
        ? 'pending'
        : 'unknown';
    return { trust, keyId: accepted, pendingKeyIds };
  }

  /** Every accepted key and every pending key heard within the TTL, by host (`warren hosts keys`). */
  listKeys(): Promise<HostKeyRecord[]> {
    return this.repo.listKeys(this.pendingHeardSince());
  }

  /** Every key pre-accepted and not heard yet, by host (`warren hosts keys`). */
  listPreAccepted(): Promise<PreAcceptedKey[]> {
    return this.repo.listPreAccepted();
  }

  /** Trust of a host for dispatch: accepted, pending/changed (known, not trusted… yet), or unknown. */
  isAccepted(host: string): boolean {
    return this.accepted.of(host) !== undefined;
  }

  /** The fingerprint of `host`'s accepted key, from memory (no read of the store); null when none is accepted. */
  acceptedKeyIdOf(host: string): string | null {
    return this.accepted.of(host)?.keyId ?? null;
  }

  private labelsAccepted(r: HostKeyRecord): boolean {
    return r.acceptedLabels === null || sameLabels(r.labels, r.acceptedLabels);
  }

  private pendingHeardSince(): number {
    return this.clock.now() - this.bounds.pendingKeyTtlMs;
  }
}
