import { Injectable } from '@nestjs/common';
import { HostKeysStore } from '../hosts/host-keys.store';
import { HostsRegistry } from '../hosts/hosts.registry';
import { unknownHostReason } from './target.resolver';

/** Why a command is not sent to a host: the invocation's verdict, stored instead. */
export interface TrustRefusal {
  state: 'unknown_host' | 'rejected';
  reason: string;
}

/** A host a command may be sent to, and the fingerprint of its accepted key, which the command is addressed to. */
export interface TrustGrant {
  agentKeyId: string;
}

/**
 * Decides whether a host may be sent a command, by its key: a host whose key is accepted may
 * (also while offline: it ends `undelivered` if it stays away), except when its accepted key is
 * gone and it announces another one; a host never announced is `unknown_host`; one whose key awaits
 * acceptance is `rejected`. Nothing such a host answered could be stored, so nothing is sent to it.
 * A host let through comes with its accepted key's fingerprint: every command and cancel names it,
 * and an agent with any other key (its state directory wiped, or another installation's host of the
 * same name) refuses it. So a host without an accepted key, trust-on-first-use included, is never
 * sent a command: `--auto-accept` accepts a key on its first heartbeat, and only then is one sent.
 */
@Injectable()
export class CommandTrust {
  constructor(
    private readonly hostKeys: HostKeysStore,
    private readonly hosts: HostsRegistry,
  ) {}

  /**
   * The grant when `host` may be sent a command at `now` (ms); otherwise the verdict for its
   * invocation. An `unknown_host` reason names a known host differing only in case only when
   * `visible` (the task creator's scope) says that host may be named; none when not given.
   */
  async check(
    host: string,
    now: number,
    visible: (host: string) => boolean = () => false,
  ): Promise<TrustGrant | TrustRefusal> {
    // A host whose accepted key is still heard gets its command, whatever keys are pending for its
    // name (an impostor's announcement changes nothing, see `acceptedKeyGone`): decided in memory,
    // with no read of the store, which at a task of thousands of hosts was one query per host.
    const accepted = this.hostKeys.acceptedKeyIdOf(host);
    if (accepted !== null && !this.hosts.acceptedKeyGone(host, now)) return { agentKeyId: accepted };
    // Otherwise one read of the store for the host's pending keys, which decide the verdict.
    const { trust, keyId, pendingKeyIds } = await this.hostKeys.view(host);
    const changedAndGone = keyId !== null && trust === 'changed' && this.hosts.acceptedKeyGone(host, now);
    if (keyId !== null && !changedAndGone) return { agentKeyId: keyId }; // accepted (perhaps merely offline)
    if (trust === 'unknown')
      return {
        state: 'unknown_host',
        reason: unknownHostReason(
          host,
          this.hosts
            .known()
            .map((p) => p.host)
            .filter(visible),
        ),
      };
    if (changedAndGone)
      return {
        state: 'rejected',
        reason: `controller: host ${host} now announces another key (${pendingKeyIds[0] ?? ''}) and its accepted key is gone; if it was reinstalled, check the new key and run \`warren hosts accept ${host}\``,
      };
    return {
      state: 'rejected',
      reason: `controller: host ${host}'s key ${pendingKeyIds[0] ?? ''} is not accepted; check it and run \`warren hosts accept ${host}\``,
    };
  }

  /** The fingerprint of `host`'s accepted key, which a cancel is addressed to; null when it has none. */
  async acceptedKeyId(host: string): Promise<string | null> {
    return (await this.hostKeys.view(host)).keyId;
  }
}

/** True when {@link CommandTrust.check} let the host through. */
export function isGrant(v: TrustGrant | TrustRefusal): v is TrustGrant {
  return 'agentKeyId' in v;
}
