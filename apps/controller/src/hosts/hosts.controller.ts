import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type { AcceptHostRequest, HostAccepted, HostList } from '@warren/api';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { AuditAs, Roles } from '../auth/auth.decorators';
import { ClientIp, CurrentPrincipal, type Principal } from '../auth/principal';
import { ForbiddenError, HostKeyError } from '../errors/errors';
import { HostKeysStore } from './host-keys.store';
import { HostsRegistry } from './hosts.registry';

/** Body of `POST /v1/hosts/:host/accept`. */
export class AcceptHostDto implements AcceptHostRequest {
  /** the fingerprint to accept, when the host has announced several keys */
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

  /**
   * Accepts a host's pending key (admin only): from then on its replies are stored and commands
   * are sent to it. Accepting a new key for a host retires its old one. 409 when there is nothing
   * (unambiguous) to accept.
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
    if (!who.scope.allows(host)) {
      const reason = `host ${host} is outside the token's patterns (${(who.hostPatterns ?? []).join(' ')})`;
      await this.audit.record({
        actor: who.name,
        source: ip,
        action: 'host.accept',
        decision: 'denied',
        hosts: [host],
        reason,
      });
      throw new ForbiddenError(`the token ${JSON.stringify(who.name)} may not accept keys of ${host}: ${reason}`);
    }
    try {
      const { keyId, replaced } = await this.keys.accept(host, dto.keyId, who.name);
      await this.audit.record({
        actor: who.name,
        source: ip,
        action: 'host.accept',
        decision: 'allowed',
        hosts: [host],
        detail: { keyId, replaced },
      });
      return { host, keyId, replaced, trust: 'accepted' };
    } catch (err) {
      if (!(err instanceof HostKeyError)) throw err;
      await this.audit.record({
        actor: who.name,
        source: ip,
        action: 'host.accept',
        decision: 'denied',
        hosts: [host],
        reason: err.message,
      });
      throw err;
    }
  }
}
