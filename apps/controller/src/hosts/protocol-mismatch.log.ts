import { ACCEPTED_PROTOCOLS, type ProtocolRange } from '@warren/protocol';
import type { Logger } from 'pino';

/** Hosts remembered at most; past it the oldest is forgotten (and logged again if it is heard again). */
const MAX_HOSTS = 20_000;

/**
 * Messages from agents speaking a protocol version this controller does not accept (older than
 * N−1, or newer than N: `@warren/protocol` `isAcceptedProtocol`): each is counted, and logged
 * (`warn`, naming both versions) once per host and version rather than at every heartbeat, since
 * such an agent keeps beating until it is upgraded (docs/install-agent.md, "Upgrading"). For a
 * heartbeat the host is the one it claims (its fields are not read in a protocol this controller
 * does not speak); for a reply, the host whose accepted key signed it. Bounded: the oldest host goes first.
 */
export class ProtocolMismatchLog {
  /** host → the version last logged for it */
  private readonly logged = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly log: Logger,
    private readonly what: 'heartbeat' | 'reply',
    private readonly range: ProtocolRange = ACCEPTED_PROTOCOLS,
  ) {}

  /** Messages of an unsupported version reported so far. */
  get count(): number {
    return this.total;
  }

  /** Counts one message of protocol `version` from `host` (undefined: it named none), logging it if it is news. */
  report(host: string | undefined, version: number, reason: string): void {
    this.total++;
    const key = host ?? '';
    if (this.logged.get(key) === version) return;
    this.logged.delete(key);
    this.logged.set(key, version);
    if (this.logged.size > MAX_HOSTS) this.logged.delete(this.logged.keys().next().value as string);
    const advice = version < this.range.min ? 'upgrade the agent' : 'upgrade this controller';
    this.log.warn(
      { host, agentProtocol: version, accepted: this.range, reason, mismatches: this.total },
      `${this.what} of a protocol version this controller does not accept: ${advice}`,
    );
  }
}
