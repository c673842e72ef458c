import { Inject, Injectable } from '@nestjs/common';
import type { Delivery } from '@warren/amqp';
import {
  type Decoded,
  decodeFileChunk,
  decodeReply,
  type FileChunkMessage,
  KEY_ID_HEADER,
  type RejectCode,
  shownKeyId,
  type ReplyMessage,
  type ResultMessage,
  UNVERIFIED_REJECT_CODES,
  verifyBody,
} from '@warren/protocol';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { HostKeysStore } from '../hosts/host-keys.store';
import { ProtocolMismatchLog } from '../hosts/protocol-mismatch.log';
import { MetricsService } from '../metrics/metrics.service';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';

/**
 * Verified refusals that change no invocation: another host's or another namespace's command (its
 * ids are not this host's invocations here), or a replay (the first copy's outcome stands).
 */
const KEEPS_OUTCOME: readonly RejectCode[] = ['wrong_host', 'wrong_namespace', 'replay'];

/**
 * The key-trust check of the agents' replies. A reply is believed only when it is signed by the
 * accepted key of the host it speaks for ({@link HostKeysStore}); anything else is counted on
 * `/metrics` and logged, and the caller drops it. A believed reply can still change only that
 * host's invocations: a live event is relayed only when its invocation is that host's
 * ({@link owns}), and a result about a message the agent could not verify, about another host's
 * command, or about a replay changes no invocation ({@link changesInvocation}): its ids are claims,
 * or the first copy's outcome stands.
 */
@Injectable()
export class ReplyVerifier {
  /** replies dropped because no accepted key signed them */
  private untrusted = 0;
  /** invocation id → its task and host, for the live events (bounded: the oldest go first) */
  private readonly owners = new Map<string, { taskId: string; host: string } | null>();
  private readonly log: Logger;
  /** replies of a protocol version this controller does not accept, logged once per host */
  private readonly mismatches: ProtocolMismatchLog;

  constructor(
    private readonly hostKeys: HostKeysStore,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'results' });
    this.mismatches = new ProtocolMismatchLog(this.log, 'reply');
  }

  /** The reply `d` carries if it is believed; null (counted and logged) if the caller must drop it. */
  verify(d: Delivery): ReplyMessage | null {
    return this.verified(d, decodeReply);
  }

  /**
   * The chunk of a fetched file `d` carries (from the fetched queue) if it is believed, by the same
   * rules as a reply: signed by the accepted key of the host it speaks for; null (counted and logged) otherwise.
   */
  verifyChunk(d: Delivery): FileChunkMessage | null {
    return this.verified(d, decodeFileChunk);
  }

  private verified<M extends { host: string }>(d: Delivery, decode: (b: Buffer) => Decoded<M>): M | null {
    const checked = this.check(d.content, d.properties.headers as Record<string, unknown> | undefined, decode);
    if (checked.ok) return checked.message;
    if (checked.metric === 'untrusted_key') {
      this.untrusted++;
      this.metrics.replyRejected('untrusted_key');
      this.log.warn(
        { correlationId: d.properties.correlationId, keyId: checked.keyId, dropped: this.untrusted },
        'dropped a reply not signed by an accepted agent key',
      );
    } else if (checked.metric === 'protocol_version') {
      this.metrics.replyRejected('protocol_version');
      this.mismatches.report(checked.host, checked.version, checked.reason);
    } else {
      this.metrics.replyRejected(checked.metric);
      this.log.warn(
        { host: checked.host, correlationId: d.properties.correlationId, reason: checked.reason },
        'rejected reply',
      );
    }
    return null;
  }

  /**
   * The same check as {@link verify} for a copy of a reply read again elsewhere (the events
   * stream): neither counted nor logged, since the results consumer counts and logs each reply once.
   */
  believe(content: Buffer, headers: Record<string, unknown> | undefined): ReplyMessage | null {
    const checked = this.check(content, headers, decodeReply);
    return checked.ok ? checked.message : null;
  }

  private check<M extends { host: string }>(
    content: Buffer,
    headers: Record<string, unknown> | undefined,
    decode: (b: Buffer) => Decoded<M>,
  ):
    | { ok: true; message: M }
    | { ok: false; metric: 'untrusted_key'; keyId: string }
    | { ok: false; metric: 'protocol_version'; host: string; version: number; reason: string }
    | { ok: false; metric: 'bad_signature' | 'malformed' | 'wrong_host'; host: string; reason: string } {
    const keyId = headers?.[KEY_ID_HEADER];
    const signer = typeof keyId === 'string' ? this.hostKeys.acceptedKey(keyId) : null;
    if (!signer) return { ok: false, metric: 'untrusted_key', keyId: shownKeyId(keyId) };
    const v = verifyBody(content, headers, new Map([[keyId as string, signer.key]]));
    const decoded = v.ok ? decode(content) : null;
    if (v.ok && decoded?.ok && decoded.message.host === signer.host) return { ok: true, message: decoded.message };
    if (decoded && !decoded.ok && decoded.wrongVersion !== undefined)
      return {
        ok: false,
        metric: 'protocol_version',
        host: signer.host,
        version: decoded.wrongVersion,
        reason: decoded.reason,
      };
    const reason = !v.ok
      ? v.reason
      : decoded && !decoded.ok
        ? decoded.reason
        : `signed by ${signer.host}'s key but speaks for ${decoded?.ok ? decoded.message.host : '?'}`;
    const metric = !v.ok ? 'bad_signature' : decoded && !decoded.ok ? 'malformed' : 'wrong_host';
    return { ok: false, metric, host: signer.host, reason };
  }

  /** True when the invocation a live event names is a task's invocation on the host that signed it. */
  /**
   * Reads, in one store call, the owners of those of `invocationIds` not known yet, so that the
   * {@link owns} checks of a batch of replies that follow cost no read each.
   */
  async learnOwners(invocationIds: Iterable<string>): Promise<void> {
    const unknown = [...new Set(invocationIds)].filter((id) => !this.owners.has(id));
    if (unknown.length === 0) return;
    const found = await this.store.invocationOwners(unknown);
    for (const id of unknown) this.remember(id, found.get(id) ?? null);
  }

  private remember(invocationId: string, owner: { taskId: string; host: string } | null): void {
    this.owners.set(invocationId, owner);
    if (this.owners.size > 50_000) this.owners.delete(this.owners.keys().next().value as string);
  }

  async owns(m: { invocationId: string; taskId: string; host: string }): Promise<boolean> {
    let o = this.owners.get(m.invocationId);
    if (o === undefined) {
      o = await this.store.invocationOwner(m.invocationId);
      this.remember(m.invocationId, o);
    }
    const ok = o !== null && o.taskId === m.taskId && o.host === m.host;
    if (!ok)
      this.log.warn(
        { host: m.host, taskId: m.taskId, correlationId: m.invocationId },
        "dropped a live event about an invocation that is not this host's",
      );
    return ok;
  }

  /** False for an agent's refusal whose ids cannot be believed or whose invocation already has its outcome. */
  changesInvocation(m: ResultMessage): boolean {
    if (!m.code) return true;
    return !(UNVERIFIED_REJECT_CODES.includes(m.code) || KEEPS_OUTCOME.includes(m.code));
  }
}
