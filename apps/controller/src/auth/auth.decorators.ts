import { SetMetadata } from '@nestjs/common';
import type { Role } from './roles';

export const IS_PUBLIC = 'warren:public';
export const REQUIRED_ROLE = 'warren:role';
export const AUDIT_ACTION = 'warren:audit-action';

/** The route needs no token (`/healthz`). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/**
 * The least role the route needs. Without it, reads (GET, HEAD) need `viewer` and anything else
 * `admin`, so a route someone forgot to annotate is closed rather than open.
 */
export const Roles = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** The audit log's name for the route's action (e.g. `task.create`); default `api.request`. */
export const AuditAs = (action: string) => SetMetadata(AUDIT_ACTION, action);
