import type { Clock } from '@warren/runtime';
import type { PresenceMessage } from '@warren/protocol';
import type { Logger } from 'pino';
import type { AuditEvent, AuditLog } from '../audit/audit.port';
import { BoundedMap, type BoundedMapLimits } from '../core/bounded.map';
import type { Seen } from './host-keys.types';

/**
 * Says what recording a heartbeat's key meant, in the log and the audit log: pending keys evicted,
 * another key than the accepted one announced (warned once a day per key), a pre-accepted key
 * heard (accepted now), a new key pending or accepted on first use (`--auto-accept`).
 */
export class KeyOutcomeReporter {
  /** `host keyId` of the announced keys warned about (for a day, then once more) */
  private readonly warnedChanged: BoundedMap<string, true>;

  constructor(
    private readonly log: Logger,
    private readonly audit: AuditLog,
    clock: Clock,
    /** `--auto-accept`: a first key not auto-accepted means its cap is reached */
    private readonly autoAccept: boolean,
    bounds: BoundedMapLimits<string, true>,
  ) {
    this.warnedChanged = new BoundedMap(clock, bounds);
  }

  /**
   * Logs and audits the outcome `seen` of each heartbeat `p`, verified with key `keyId`, the audit
   * records of them all in one write; for each, false when the heartbeat is not to be believed
   * (another key than the accepted one), true when it counts.
   */
  async reportMany(heard: readonly { p: PresenceMessage; keyId: string; seen: Seen }[]): Promise<boolean[]> {
    const records: AuditEvent[] = [];
    const counts = heard.map(({ p, keyId, seen }) => this.report(p, keyId, seen, records));
    await this.audit.recordMany(records);
    return counts;
  }

  /** Logs the outcome of one heartbeat, appending its audit records to `records`; whether it counts. */
  private report(
    p: PresenceMessage,
    keyId: string,
    { result: seen, evicted, acceptedBy }: Seen,
    records: AuditEvent[],
  ): boolean {
    if (evicted.length > 0)
      this.log.info({ host: p.host, keyId, evicted }, 'pending keys evicted to record a key heard now');
    if (seen === 'changed') {
      // Reinstalled, or someone else claiming the name: keep believing the accepted key only.
      if (!this.warnedChanged.has(`${p.host} ${keyId}`)) {
        this.warnedChanged.set(`${p.host} ${keyId}`, true);
        this.log.warn(
          { host: p.host, keyId },
          'host announced a different key than the accepted one; ignored until accepted',
        );
        records.push({
          actor: `agent:${p.host}`,
          source: 'broker',
          action: 'host.key.changed',
          decision: 'denied',
          hosts: [p.host],
          reason: `announced key ${keyId}, not the accepted one`,
          detail: { keyId },
          repeatKey: `${p.host} key changed`,
        });
      }
      return false;
    }
    if (seen === 'pre-accepted') {
      this.log.info({ host: p.host, keyId, acceptedBy }, 'pre-accepted host key heard: accepted');
      records.push({
        actor: 'controller',
        source: 'broker',
        action: 'host.accept',
        decision: 'allowed',
        hosts: [p.host],
        reason: `first heartbeat of the key pre-accepted by ${acceptedBy ?? '?'}`,
        detail: { keyId, labels: p.labels },
      });
    }
    if (seen === 'new-pending' || seen === 'auto-accepted') {
      this.log.info(
        { host: p.host, keyId, accepted: seen === 'auto-accepted' },
        seen === 'auto-accepted'
          ? 'host key accepted on first use (--auto-accept)'
          : this.autoAccept // a first key not auto-accepted: the cap on accepted hosts is reached
            ? 'new host key pending acceptance: --auto-accept stopped at its cap on accepted hosts'
            : 'new host key pending acceptance',
      );
      records.push({
        actor: seen === 'auto-accepted' ? 'controller' : `agent:${p.host}`,
        source: 'broker',
        action: seen === 'auto-accepted' ? 'host.accept' : 'host.key.seen',
        decision: seen === 'auto-accepted' ? 'allowed' : 'denied',
        hosts: [p.host],
        reason: seen === 'auto-accepted' ? 'accepted on first use (--auto-accept)' : 'key pending acceptance',
        detail: { keyId },
        // Anyone who can publish can announce fresh keys: one record a minute, with a count and the hosts.
        ...(seen === 'new-pending' ? { repeatKey: 'key pending acceptance' } : {}),
      });
    }
    return true;
  }
}
