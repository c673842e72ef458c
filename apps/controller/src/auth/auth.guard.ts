import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { HostPatternError } from '@warren/api';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { ForbiddenError, TooManyRequestsError, UnauthenticatedError } from '../errors/errors';
import { AuthFailureLimiter, sourceKey } from './auth-failure.limiter';
import { AUDIT_ACTION, IS_PUBLIC, REQUIRED_ROLE } from './auth.decorators';
import { HostScope } from './host-patterns';
import { type AuthedRequest, attemptedTask, clientIp } from './principal';
import { type Role, roleAllows } from './roles';
import { TokenService } from './token.service';

/** How to get a token, appended to every 401. */
export const GET_A_TOKEN =
  'create one on the controller host with `warren-controller token create --name <name> --role operator`';

/**
 * The global guard (APP_GUARD): every route but `@Public()` ones needs `Authorization: Bearer
 * <token>` with a live token whose role is at least the route's `@Roles(…)` (default: `viewer` for
 * reads, `admin` for anything else). Every refusal is an audit record before it is answered.
 *
 * Failed authentication is limited per source address ({@link AuthFailureLimiter}): once an
 * address has spent its burst, every request from it needing a token is refused 429 with
 * `Retry-After` before its token is looked at. 401s and 429s are audited as repeatable refusals:
 * one record per address (an IPv6 one by its /64, as the limiter counts) and reason a minute,
 * with a count (`AggregatingAuditLog`).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly log: Logger;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly limiter: AuthFailureLimiter,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'auth' });
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const explicitAction = this.reflector.getAllAndOverride<string | undefined>(AUDIT_ACTION, targets);
    const required =
      this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ??
      (req.method === 'GET' || req.method === 'HEAD' ? 'viewer' : 'admin');
    const source = clientIp(req) ?? 'unknown';
    // Repeatable refusals are folded by what the limiter counts (an IPv6 address by its /64): an
    // attacker rotating addresses within its /64 would otherwise write one record per request.
    const foldedSource = sourceKey(source);
    const admission = this.limiter.admit(source);
    if (!admission.admitted) {
      const retryAfterSec = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
      const reason = 'too many failed authentications: refusing with 429';
      // One record per address a minute, with a count (repeatKey): a flood cannot flood the log.
      await this.audit.record({
        actor: 'anonymous',
        source: foldedSource,
        action: explicitAction ?? 'api.request',
        decision: 'denied',
        reason,
        detail: { method: req.method, path: req.path.slice(0, 256), status: 429 },
        repeatKey: reason,
      });
      throw new TooManyRequestsError(retryAfterSec);
    }
    const deny = async (status: 401 | 403, actor: string, reason: string, message: string): Promise<never> => {
      const error =
        status === 401 ? new UnauthenticatedError(`${message}; ${GET_A_TOKEN}`) : new ForbiddenError(message);
      if (status === 401) this.limiter.failed(source);
      const action = explicitAction ?? 'api.request';
      await this.audit.record({
        actor,
        source: status === 401 ? foldedSource : source,
        action,
        decision: 'denied',
        reason,
        ...(action === 'task.create' ? attemptedTask(req.body) : {}),
        detail: { method: req.method, path: req.path.slice(0, 256), status },
        // Anyone can send 401s at line rate: one record per address, actor and reason a minute, with a count.
        ...(status === 401 ? { repeatKey: `${actor} ${reason}` } : {}),
      });
      // A 401 anyone can repeat at line rate: at debug (the audit log counts them); a 403 at info.
      this.log[status === 401 ? 'debug' : 'info'](
        { actor, method: req.method, path: req.path.slice(0, 256), status, reason },
        'request denied',
      );
      throw error;
    };

    const header = req.headers.authorization;
    if (header === undefined || header === '')
      return deny(401, 'anonymous', 'no token', 'this API needs a token: send `Authorization: Bearer <token>`');
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (!m)
      return deny(
        401,
        'anonymous',
        'Authorization header is not a bearer token',
        'the Authorization header must be `Bearer <token>`',
      );
    const check = await this.tokens.check(m[1]);
    if (!check.ok) {
      if (check.reason === 'revoked')
        return deny(
          401,
          check.token!.name,
          'token revoked',
          `the token ${JSON.stringify(check.token!.name)} was revoked`,
        );
      return deny(
        401,
        'anonymous',
        check.reason === 'malformed' ? 'malformed token' : 'unknown token',
        'the token is not valid',
      );
    }
    const t = check.token;
    if (!roleAllows(t.role, required)) {
      return deny(
        403,
        t.name,
        `role ${t.role} below ${required}`,
        `the token ${JSON.stringify(t.name)} has role ${t.role}; ${req.method} ${req.path} needs ${required} or above`,
      );
    }
    let scope: HostScope;
    try {
      scope = new HostScope(t.hostPatterns);
    } catch (err) {
      // A token created before a pattern rule tightened (more than 8 brackets, a 13-digit bound):
      // refused, audited and said plainly, rather than a 400 about a "glob" on every request.
      if (!(err instanceof HostPatternError)) throw err;
      return deny(
        403,
        t.name,
        `token host pattern no longer valid: ${err.message}`,
        `the token ${JSON.stringify(t.name)} has a host pattern that no longer meets the pattern rules (${err.message}); an admin must revoke it and create a new one`,
      );
    }
    req.principal = { tokenId: t.id, name: t.name, role: t.role, hostPatterns: t.hostPatterns, scope };
    await this.tokens.touch(t.id);
    return true;
  }
}
