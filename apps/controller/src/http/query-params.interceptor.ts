import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { BadQueryError } from '../errors/errors';

/** One entry of Nest's route-argument metadata (`@Query('limit')` → `{ index, data: 'limit' }`). */
interface RouteArg {
  index: number;
  data?: unknown;
}

/**
 * The query parameters a handler declares with `@Query('name')`; null when it takes the whole
 * query (`@Query() q`) and so checks it itself (as `GET /v1/audit` does).
 */
export function declaredQueryParams(controller: object, handler: string): string[] | null {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, RouteArg>;
  const names: string[] = [];
  for (const [key, arg] of Object.entries(args)) {
    if (key.split(':')[0] !== String(RouteParamtypes.QUERY)) continue;
    if (typeof arg.data !== 'string') return null;
    names.push(arg.data);
  }
  return names;
}

/** What is wrong with `query` for a route that declares `known`, one line each; empty when nothing is. */
export function queryProblems(query: Record<string, unknown>, known: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const shown = JSON.stringify(name).slice(0, 60);
    if (!known.includes(name))
      problems.push(
        known.length === 0
          ? `unknown query parameter ${shown}: this endpoint takes none`
          : `unknown query parameter ${shown}; known: ${known.join(', ')}`,
      );
    else if (typeof value !== 'string') problems.push(`query parameter ${name} must be given once`);
  }
  return problems;
}

/**
 * Refuses (400, {@link BadQueryError} naming each one) a query parameter the route does not
 * declare, and one given twice (`?limit=1&limit=2`), instead of ignoring it: a misspelt
 * `?waitMS=5000` would otherwise silently not wait. Global (APP_INTERCEPTOR), registered after
 * the refusal-audit interceptor so that a refused `POST /v1/tasks` is audited like any other 400.
 */
@Injectable()
export class QueryParamsInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const known = declaredQueryParams(ctx.getClass(), ctx.getHandler().name);
    if (known !== null) {
      const problems = queryProblems(ctx.switchToHttp().getRequest<Request>().query, known);
      if (problems.length > 0) throw new BadQueryError(problems.join('; '));
    }
    return next.handle();
  }
}
