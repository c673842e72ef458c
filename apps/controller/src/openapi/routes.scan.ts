import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common/enums/request-method.enum';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { IS_PUBLIC, REQUIRED_ROLE } from '../auth/auth.decorators';
import type { Role } from '../auth/roles';
import { declaredQueryParams } from '../http/query-params.interceptor';

/**
 * One route as Nest registers it, read from the decorators' metadata (the same metadata Nest's
 * router and Warren's guard and query interceptor read), so a route added to a controller is in
 * the OpenAPI document without anyone listing it.
 */
export interface ScannedRoute {
  /** lower case, as an OpenAPI path item names it: `get`, `post` */
  method: string;
  /** OpenAPI form: `/v1/tasks/{id}` */
  path: string;
  /** `GET /v1/tasks/{id}`: the key of the route's entry in the operations table */
  key: string;
  controller: Type;
  handler: string;
  /** `:id` segments, in order */
  pathParams: string[];
  /** `@Query('name')` parameters; null when the handler takes the whole query and checks it itself */
  queryParams: string[] | null;
  /** `@Headers('name')` parameters, lower case */
  headerParams: string[];
  /** the class of its `@Body()` parameter; null without one */
  body: Type | null;
  /** `@Public()`: no token needed */
  isPublic: boolean;
  /** the least role, as the guard decides it (`@Roles`, else `viewer` for reads and `admin` for the rest); null when public */
  role: Role | null;
}

type ModuleLike = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/** Every controller class of `root` and the modules it imports, transitively, each once, in import order. */
export function controllersOf(root: ModuleLike): Type[] {
  const seen = new Set<unknown>();
  const found = new Set<Type>();
  const visit = (m: ModuleLike | undefined): void => {
    if (!m || m instanceof Promise || seen.has(m)) return;
    seen.add(m);
    if ('forwardRef' in m) return visit(m.forwardRef() as ModuleLike);
    const dynamic = 'module' in m ? m : null;
    const cls = dynamic ? dynamic.module : (m as Type);
    const meta = (key: string) => (Reflect.getMetadata(key, cls) ?? []) as unknown[];
    for (const c of [...meta(MODULE_METADATA.CONTROLLERS), ...(dynamic?.controllers ?? [])]) found.add(c as Type);
    for (const i of [...meta(MODULE_METADATA.IMPORTS), ...(dynamic?.imports ?? [])]) visit(i as ModuleLike);
  };
  visit(root);
  return [...found];
}

interface RouteArg {
  index: number;
  data?: unknown;
}

const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '')
    .join('/');

/** The routes of `controllers`, sorted by path then method, as {@link ScannedRoute}s. */
export function scanRoutes(controllers: readonly Type[]): ScannedRoute[] {
  const routes: ScannedRoute[] = [];
  for (const controller of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const proto = controller.prototype as Record<string, unknown>;
    for (const handler of Object.getOwnPropertyNames(proto)) {
      const fn = proto[handler];
      if (handler === 'constructor' || typeof fn !== 'function') continue;
      const methodCode = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
      const sub = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
      if (methodCode === undefined || sub === undefined) continue;
      if (Array.isArray(sub)) throw new Error(`${controller.name}.${handler}: one path per route, please`);
      const method = RequestMethod[methodCode].toLowerCase();
      const nestPath = join(base, sub);
      const path = nestPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, RouteArg>;
      const argsOf = (type: RouteParamtypes) =>
        Object.entries(args)
          .filter(([k]) => k.split(':')[0] === String(type))
          .map(([, a]) => a);
      const bodyArg = argsOf(RouteParamtypes.BODY)[0];
      const paramTypes = (Reflect.getMetadata('design:paramtypes', controller.prototype, handler) ?? []) as Type[];
      const isPublic = (Reflect.getMetadata(IS_PUBLIC, fn) ?? Reflect.getMetadata(IS_PUBLIC, controller)) === true;
      const declaredRole = (Reflect.getMetadata(REQUIRED_ROLE, fn) ??
        Reflect.getMetadata(REQUIRED_ROLE, controller)) as Role | undefined;
      routes.push({
        method,
        path,
        key: `${method.toUpperCase()} ${path}`,
        controller,
        handler,
        pathParams: [...nestPath.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]),
        queryParams: declaredQueryParams(controller, handler),
        headerParams: argsOf(RouteParamtypes.HEADERS).map((a) => String(a.data).toLowerCase()),
        body: bodyArg ? (paramTypes[bodyArg.index] ?? null) : null,
        isPublic,
        role: isPublic ? null : (declaredRole ?? (method === 'get' || method === 'head' ? 'viewer' : 'admin')),
      });
    }
  }
  return routes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.method < b.method ? -1 : 1));
}
