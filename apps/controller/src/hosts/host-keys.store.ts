import type { HostTrust } from '@warren/api';
import type { KeyObject } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import { parsePublicKey } from '@warren/protocol';
import { Clock } from '@warren/runtime';
import { HostKeyError } from '../errors/errors';
import { HOST_KEY_REPOSITORY, type HostKeyRecord, type HostKeyRepository, type Labels } from './host-keys.port';
import { sameLabels } from './labels.compare';

/** Whether the controller trusts what a host says: the contract's `HostTrust`. */
export type { HostTrust };

/** One host's keys as `warren hosts` shows them. */
export interface HostKeyView {
  trust: HostTrust;
  /** the accepted key, if any */
  keyId: string | null;
  /** keys seen lately and not accepted */
  pendingKeyIds: string[];
}

/** Outcome of a key announced in a heartbeat. */
export type SeenResult =
  | 'accepted'
  | 'new-pending'
  | 'pending'
  | 'auto-accepted'
  | 'changed'
  /** not newer than the newest heartbeat of this key: a replay, ignored */
  | 'stale'
  /** a key an operator rejected, ignored */
  | 'rejected';

/** Pending keys recorded for one host name at most: a flood of fake heartbeats cannot grow the table. */
export const MAX_PENDING_KEYS_PER_HOST = 4;
/** Pending keys recorded in all at most. */
export const MAX_PENDING_KEYS = 10_000;

/** How many pending keys are kept, and for how long without a heartbeat. */
export interface HostKeyBounds {
  /** ms; a pending key not heard from within this is forgotten (`--pending-key-ttl`) */
  pendingKeyTtlMs: number;
  /** pending keys per host name; a new one evicts the least recently heard */
  maxPendingPerHost: number;
  /** pending keys in all; a new one evicts the least recently heard of all */
  maxPending: number;
}

/** Injection token of the {@link HostKeyBounds} (optional: {@link DEFAULT_HOST_KEY_BOUNDS}). */
export const HOST_KEY_BOUNDS = Symbol('HOST_KEY_BOUNDS');

/** 24 h, 4 per host, 10,000 in all. */
export const DEFAULT_HOST_KEY_BOUNDS: HostKeyBounds = {
  pendingKeyTtlMs: 24 * 3_600_000,
  maxPendingPerHost: MAX_PENDING_KEYS_PER_HOST,
  maxPending: MAX_PENDING_KEYS,
};

/** What an accept did: a key (with the labels it announced) or, for an accepted key, a change of its labels. */
export interface AcceptOutcome {
  keyId: string;
  /** the key it replaces; null when none (and for a change of labels) */
  replaced: string | null;
  /** the labels now accepted: commands target the host by these */
  labels: Labels;
  /** `labels`: the key was already accepted; only its announced labels were */
  accepted: 'key' | 'labels';
}

/**
 * The agents' public keys, persisted with the tasks: an agent's replies are stored only when they
 * are signed by its accepted key, so a host that merely publishes on the replies exchange cannot
 * write another host's results. A key is recorded `pending` on first sight and accepted by an
 * operator (`warren hosts accept <host>`), or at once with `--auto-accept`, as Salt does with
 * minion keys; `warren hosts reject` forgets a pending key for good. Accepting a new key for a host
 * retires the old one. Pending keys are bounded: one not heard within the TTL expires, and a key
 * heard now always finds room by evicting the least recently heard. The labels a key announces are
 * accepted with it; a later change of them is used for targeting only once accepted too. The keys
 * are persisted behind the {@link HostKeyRepository}; the accepted ones are also held here, since
 * every reply is checked against them.
 */
@Injectable()
export class HostKeysStore implements OnModuleInit {
  /** fingerprint → host and key, of accepted keys only (the hot path of every reply) */
  private readonly acceptedByKeyId = new Map<string, { host: string; key: KeyObject }>();
  /** host → accepted fingerprint and the labels accepted with it (null: not yet recorded, see the repository) */
  private readonly acceptedByHost = new Map<string, { keyId: string; labels: Labels | null }>();
  /**
   * host → the last key change under way. Each change reads the cache, writes the store, then the
   * cache: two changes of one host (two accepts, an accept and a heartbeat) run one after the
   * other, so neither decides on what the other is about to change.
   */
  private readonly changing = new Map<string, Promise<unknown>>();
  private readonly bounds: HostKeyBounds;

  constructor(
    @Inject(HOST_KEY_REPOSITORY) private readonly repo: HostKeyRepository,
    private readonly clock: Clock,
    @Optional() @Inject(HOST_KEY_BOUNDS) bounds?: HostKeyBounds,
  ) {
    this.bounds = bounds ?? DEFAULT_HOST_KEY_BOUNDS;
  }

  /** Loads the accepted keys (Nest calls it before the consumers start, so no reply is judged without them). */
  async onModuleInit(): Promise<void> {
    for (const r of await this.repo.listAccepted()) this.cache(r.host, r.keyId, r.publicKey, r.acceptedLabels);
  }

  /**
   * Records a key a host announced (its heartbeat was verified with that very key), with the
   * heartbeat's signed `sentAt` (ms; undefined: no replay check) and labels. Returns what that
   * means, and the pending keys evicted to make room for a new one.
   */
  seen(
    host: string,
    publicKey: string,
    keyId: string,
    autoAccept: boolean,
    heard: { sentAt?: number; labels?: Labels } = {},
  ): Promise<{ result: SeenResult; evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[] }> {
    return this.oneAtATime(host, () => this.record(host, publicKey, keyId, autoAccept, heard));
  }

  private async record(
    host: string,
    publicKey: string,
    keyId: string,
    autoAccept: boolean,
    heard: { sentAt?: number; labels?: Labels },
  ): Promise<{ result: SeenResult; evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[] }> {
    const accepted = this.acceptedByHost.get(host);
    const labels = heard.labels ?? {};
    const now = this.clock.now();
    const outcome = await this.repo.recordSeen(
      { host, keyId, publicKey },
      {
        accept: autoAccept && !accepted,
        at: now,
        sentAt: heard.sentAt,
        labels,
        maxPendingPerHost: this.bounds.maxPendingPerHost,
        maxPending: this.bounds.maxPending,
        pendingHeardSince: now - this.bounds.pendingKeyTtlMs,
      },
    );
    if ('stale' in outcome) return { result: 'stale', evicted: [] };
    if ('rejected' in outcome) return { result: 'rejected', evicted: [] };
    if ('known' in outcome) {
      if (outcome.known === 'accepted') {
        if (accepted && accepted.labels === null) accepted.labels = labels; // see the repository's touch
        return { result: 'accepted', evicted: [] };
      }
      return { result: accepted ? 'changed' : 'pending', evicted: [] };
    }
    if (outcome.inserted === 'accepted') {
      this.cache(host, keyId, publicKey, labels);
      return { result: 'auto-accepted', evicted: [] };
    }
    return { result: accepted ? 'changed' : 'new-pending', evicted: outcome.evicted };
  }

  /**
   * Accepts a host's pending key (the only one, or the one named by `keyId`, which may also be a
   * key rejected earlier) with the labels it last announced, retiring the key it replaces; or, when
   * the host has no pending key and its accepted key announces other labels than the accepted ones,
   * accepts those labels. Throws {@link HostKeyError} when there is nothing (unambiguous) to accept.
   */
  accept(host: string, keyId: string | undefined, by: string): Promise<AcceptOutcome> {
    return this.oneAtATime(host, () => this.acceptNow(host, keyId, by));
  }

  private async acceptNow(host: string, keyId: string | undefined, by: string): Promise<AcceptOutcome> {
    const rows = await this.repo.keysOf(host, this.pendingHeardSince());
    const current = rows.find((r) => r.status === 'accepted');
    if (current && (keyId === undefined || keyId === current.keyId) && !this.labelsAccepted(current)) {
      if (keyId !== undefined || !rows.some((r) => r.status === 'pending')) {
        await this.repo.acceptLabels(host, current.keyId, current.labels);
        this.acceptedByHost.set(host, { keyId: current.keyId, labels: current.labels });
        return { keyId: current.keyId, replaced: null, labels: current.labels, accepted: 'labels' };
      }
    }
    const pick = await this.pickPending(host, rows, keyId, 'accept');
    const replaced = this.acceptedByHost.get(host)?.keyId ?? null;
    await this.repo.accept(host, pick.keyId, by, this.clock.now());
    if (replaced) this.acceptedByKeyId.delete(replaced);
    this.cache(host, pick.keyId, pick.publicKey, pick.labels);
    return { keyId: pick.keyId, replaced, labels: pick.labels, accepted: 'key' };
  }

  /**
   * Rejects a host's pending key (the only one, or the one named by `keyId`): it is forgotten, and
   * its heartbeats are ignored from then on (`warren hosts accept --key` still takes it back).
   * Throws {@link HostKeyError} when there is nothing (unambiguous) to reject.
   */
  reject(host: string, keyId: string | undefined, by: string): Promise<{ keyId: string }> {
    return this.oneAtATime(host, async () => {
      const rows = await this.repo.keysOf(host, this.pendingHeardSince());
      const pick = await this.pickPending(host, rows, keyId, 'reject');
      await this.repo.reject(host, pick.keyId, by, this.clock.now());
      return { keyId: pick.keyId };
    });
  }

  /** The pending key to accept or reject: the only one, or the one named; a named rejected key too, to accept. */
  private async pickPending(
    host: string,
    rows: HostKeyRecord[],
    keyId: string | undefined,
    verb: 'accept' | 'reject',
  ): Promise<Pick<HostKeyRecord, 'keyId' | 'publicKey' | 'labels'>> {
    const pending = rows.filter((r) => r.status === 'pending');
    const pick = keyId ? pending.find((r) => r.keyId === keyId) : pending.length === 1 ? pending[0] : undefined;
    if (pick) return pick;
    if (keyId) {
      const back = verb === 'accept' ? await this.repo.rejectedKey(host, keyId) : null;
      if (back) return { ...back, labels: {} };
      throw new HostKeyError(`host ${host} has no pending key ${keyId}`);
    }
    if (pending.length === 0) {
      const current = this.acceptedByHost.get(host)?.keyId;
      throw new HostKeyError(
        current ? `host ${host} has no pending key (accepted: ${current})` : `no agent has announced host ${host}`,
      );
    }
    throw new HostKeyError(
      `host ${host} has ${pending.length} pending keys (${pending.map((r) => r.keyId).join(', ')}); name one with keyId`,
    );
  }

  /** Runs `change` after every earlier change of `host` has settled (whether it succeeded or not). */
  private oneAtATime<T>(host: string, change: () => Promise<T>): Promise<T> {
    const run = (this.changing.get(host) ?? Promise.resolve()).then(change, change);
    const tail = run.catch(() => undefined);
    this.changing.set(host, tail);
    void tail.then(() => {
      if (this.changing.get(host) === tail) this.changing.delete(host);
    });
    return run;
  }

  /** The host whose accepted key has this fingerprint, with the key; null if none. */
  acceptedKey(keyId: string): { host: string; key: KeyObject } | null {
    return this.acceptedByKeyId.get(keyId) ?? null;
  }

  /** The labels accepted with the host's key, which targeting uses; {} when no key (or none yet) is accepted. */
  acceptedLabels(host: string): Labels {
    return this.acceptedByHost.get(host)?.labels ?? {};
  }

  /** Where a host stands. */
  async view(host: string): Promise<HostKeyView> {
    const rows = await this.repo.keysOf(host, this.pendingHeardSince());
    const accepted = this.acceptedByHost.get(host)?.keyId ?? null;
    const pendingKeyIds = rows.filter((r) => r.status === 'pending').map((r) => r.keyId);
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

  /** Trust of a host for dispatch: accepted, pending/changed (known, not trusted… yet), or unknown. */
  isAccepted(host: string): boolean {
    return this.acceptedByHost.has(host);
  }

  private labelsAccepted(r: HostKeyRecord): boolean {
    return r.acceptedLabels === null || sameLabels(r.labels, r.acceptedLabels);
  }

  private pendingHeardSince(): number {
    return this.clock.now() - this.bounds.pendingKeyTtlMs;
  }

  private cache(host: string, keyId: string, publicKeyBase64: string, labels: Labels | null): void {
    this.acceptedByKeyId.set(keyId, { host, key: parsePublicKey(publicKeyBase64).publicKey });
    this.acceptedByHost.set(host, { keyId, labels });
  }
}
