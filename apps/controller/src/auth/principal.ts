import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { HostScope } from './host-patterns';
import type { Role } from './roles';

/** Who is calling: the API token that authenticated the request. */
export interface Principal {
  tokenId: string;
  /** the token's name, the audit log's actor */
  name: string;
  role: Role;
  /** the token's host patterns, or null for every host */
  hostPatterns: string[] | null;
  /** the hosts this token reaches */
  scope: HostScope;
}

/** Who asks: the authenticated token and the client's address, for scope checks and the audit log. */
export interface Caller {
  principal: Principal;
  /** client IP */
  source: string | null;
}

/** What the auth guard attaches to each request it lets through. */
export interface AuthedRequest extends Request {
  principal?: Principal;
}

/**
 * What an unvalidated `POST /v1/tasks` body asked for, bounded, for the record of a refusal:
 * a denial says what was tried. Fields of the wrong type are left out.
 */
export function attemptedTask(body: unknown): { command: string | null; hosts?: string[] } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { command?: unknown; hosts?: unknown };
  return {
    command: typeof b.command === 'string' ? b.command.slice(0, 65_536) : null,
    hosts: Array.isArray(b.hosts)
      ? b.hosts
          .filter((h): h is string => typeof h === 'string')
          .slice(0, 100)
          .map((h) => h.slice(0, 100))
      : undefined,
  };
}

/** The client's IP address as the audit log keeps it (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function clientIp(req: Request): string | null {
  const ip = req.socket?.remoteAddress ?? null;
  return ip?.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * The request's {@link Principal} as a handler parameter: `list(@CurrentPrincipal() who: Principal)`.
 * Undefined only on `@Public()` routes.
 */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<AuthedRequest>().principal,
);

/** The client IP of the request as a handler parameter, for the audit log. */
export const ClientIp = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  clientIp(ctx.switchToHttp().getRequest<Request>()),
);
