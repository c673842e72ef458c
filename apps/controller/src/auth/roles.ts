/** What a token may do. Each role includes every role before it in {@link ROLES}. */
export type Role = 'viewer' | 'operator' | 'admin';

/**
 * Roles from least to most allowed: `viewer` reads tasks and hosts; `operator` also creates (and
 * cancels) tasks; `admin` does everything, including reading the audit log and accepting host keys.
 */
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** True when `held` is `required` or a role above it. */
export function roleAllows(held: Role, required: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(required);
}
