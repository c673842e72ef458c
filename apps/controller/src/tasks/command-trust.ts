import { Injectable } from '@nestjs/common';
import { HostKeysStore } from '../hosts/host-keys.store';
import { HostsRegistry } from '../hosts/hosts.registry';
import { unknownHostReason } from './target.resolver';

/** Why a command is not sent to a host: the invocation's verdict, stored instead. */
export interface TrustRefusal {
  state: 'unknown_host' | 'rejected';
  reason: string;
}

/**
 * Decides whether a host may be sent a command, by its key: a host whose key is accepted may
 * (also while offline: it ends `undelivered` if it stays away), except when its accepted key is
 * gone and it announces another one; a host never announced is `unknown_host`; one whose key awaits
 * acceptance is `rejected`. Nothing such a host answered could be stored, so nothing is sent to it.
 */
@Injectable()
export class CommandTrust {
  constructor(
    private readonly hostKeys: HostKeysStore,
    private readonly hosts: HostsRegistry,
  ) {}

  /** null when `host` may be sent a command at `now` (ms); otherwise the verdict for its invocation. */
  async refusal(host: string, now: number): Promise<TrustRefusal | null> {
    // The common case costs two map lookups; the store is read only for a host not plainly trusted.
    const accepted = this.hostKeys.isAccepted(host);
    if (accepted && !this.hosts.acceptedKeyGone(host, now)) return null;
    const { trust, pendingKeyIds } = await this.hostKeys.view(host);
    const changedAndGone = accepted && trust === 'changed';
    if (accepted && !changedAndGone) return null; // accepted and merely offline
    if (trust === 'unknown')
      return {
        state: 'unknown_host',
        reason: unknownHostReason(
          host,
          this.hosts.known().map((p) => p.host),
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
}
