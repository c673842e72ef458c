import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type {
  AcceptHostRequest,
  HostAccepted,
  HostKeyInfo,
  HostKeyList,
  HostList,
  HostRejected,
  RejectHostRequest,
} from '@warren/api';
import { isValidHostId } from '@warren/protocol';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { AuditAs, Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { ForbiddenError, HostKeyError, InvalidRequestError } from '../errors/errors';
import { HostKeysStore } from './host-keys.store';
import { HostsRegistry } from './hosts.registry';

/** What a host id is, as `HOST_ID_PATTERN` of `@warren/protocol` says. */
const HOST_ID_RULE = 'a letter or digit, then up to 62 letters, digits, ".", "_" or "-"';

/** Body of `POST /v1/hosts/:host/accept`. */
export class AcceptHostDto implements AcceptHostRequest {
  /** the fingerprint to accept, when the host has announced several keys */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  keyId?: string;
}

/** Body of `POST /v1/hosts/:host/reject`. */
export class RejectHostDto implements RejectHostRequest {
  /** the pending fingerprint to reject, when the host has announced several keys; or the pre-accepted one */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  keyId?: string;
}

@Controller('v1/hosts')
export class HostsController {
  constructor(
    private readonly registry: HostsRegistry,
    private readonly keys: HostKeysStore,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
  ) {}

  /** The agents, with their trust; a token limited to host patterns sees only matching hosts. */
  @Get()
  @Roles('viewer')
  async list(@CurrentPrincipal() who: Principal): Promise<HostList> {
    return { hosts: (await this.registry.list()).filter((h) => who.scope.allows(h.host)) };
  }

  /** Accepted, pending and pre-accepted keys with their fingerprints, by host; scoped like {@link list}. */
  @Get('keys')
  @Roles('viewer')
  async listKeys(@CurrentPrincipal() who: Principal): Promise<HostKeyList> {
    const heard: HostKeyInfo[] = (await this.keys.listKeys()).map((k) => ({
      host: k.host,
      keyId: k.keyId,
      status: k.status === 'accepted' ? 'accepted' : 'pending',
      firstSeen: new Date(k.firstSeenAt).toISOString(),
      lastSeen: new Date(k.lastSeenAt).toISOString(),
      labels: k.labels,
      acceptedLabels: k.status === 'accepted' ? (k.acceptedLabels ?? k.labels) : null,
    }));
    const awaited: HostKeyInfo[] = (await this.keys.listPreAccepted()).map((k) => ({
      host: k.host,
      keyId: k.keyId,
      status: 'pre-accepted',
      firstSeen: null,
      lastSeen: null,
      labels: {},
      acceptedLabels: null,
    }));
    const byHost = (a: HostKeyInfo, b: HostKeyInfo) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0);
    return { keys: [...heard, ...awaited].filter((k) => who.scope.allows(k.host)).sort(byHost) };
  }

  /**
   * Accepts a host's pending key with the labels it announces, or an accepted key's changed labels
   * (admin only): from then on its replies are stored and commands are sent to it. Accepting a new
   * key for a host retires its old one. A named key not heard lately is pre-accepted: the host's
   * first heartbeat signed by it makes it the accepted key. 409 when there is nothing (unambiguous)
   * to accept.
   */
  @Post(':host/accept')
  @HttpCode(200)
  @Roles('admin')
  @AuditAs('host.accept')
  async accept(
    @Param('host') host: string,
    @Body() dto: AcceptHostDto,
    @CurrentPrincipal() who: Principal,
    @ClientIp() ip: string | null,
  ): Promise<HostAccepted> {
    // A pre-accept is kept until its key is heard: a name no agent could have is refused, not stored.
    if (!isValidHostId(host))
      throw new InvalidRequestError([`host ${JSON.stringify(host.slice(0, 80))} is not a host id (${HOST_ID_RULE})`]);
    const r = await this.audited('host.accept', host, who, ip, () => this.keys.accept(host, dto.keyId, who.name));
    const trust = r.accepted === 'pre-accepted' ? (await this.keys.view(host)).trust : 'accepted';
    return { host, keyId: r.keyId, replaced: r.replaced, labels: r.labels, accepted: r.accepted, trust };
  }

  /**
   * Rejects a host's pending key (admin only): it is forgotten and its heartbeats are ignored, so
   * it takes no pending slot again; or withdraws its pre-accepted key. 409 when there is nothing
   * (unambiguous) to reject.
   */
  @Post(':host/reject')
  @HttpCode(200)
  @Roles('admin')
  @AuditAs('host.reject')
  async reject(
    @Param('host') host: string,
    @Body() dto: RejectHostDto,
    @CurrentPrincipal() who: Principal,
    @ClientIp() ip: string | null,
  ): Promise<HostRejected> {
    const r = await this.audited('host.reject', host, who, ip, () => this.keys.reject(host, dto.keyId, who.name));
    return { host, keyId: r.keyId, preAccepted: r.preAccepted };
  }

  /** Runs a key change of `host` for `who`, auditing it allowed (with its outcome) or denied (scope, nothing to change). */
  private async audited<T extends object>(
    action: 'host.accept' | 'host.reject',
    host: string,
    who: Principal,
    ip: string | null,
    change: () => Promise<T>,
  ): Promise<T> {
    const record = (decision: 'allowed' | 'denied', more: { reason?: string; detail?: Record<string, unknown> }) =>
      this.audit.record({ actor: who.name, source: ip, action, decision, hosts: [host], ...more });
    if (!who.scope.allows(host)) {
      const reason = `host ${host} is outside the token's patterns (${(who.hostPatterns ?? []).join(' ')})`;
      await record('denied', { reason });
      const verb = action === 'host.accept' ? 'accept' : 'reject';
      throw new ForbiddenError(`the token ${JSON.stringify(who.name)} may not ${verb} keys of ${host}: ${reason}`);
    }
    try {
      const outcome = await change();
      await record('allowed', { detail: { ...outcome } as Record<string, unknown> });
      return outcome;
    } catch (err) {
      if (err instanceof HostKeyError) await record('denied', { reason: err.message });
      throw err;
    }
  }
}
