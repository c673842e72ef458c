import type { Whoami } from '@warren/api/common.contract';

/**
 * The signed-in token. It lives in sessionStorage (this tab only, gone when the tab closes), never
 * in localStorage or a cookie: what script could read it is limited by the CSP and by showing host
 * output as text only (docs/console.md).
 */
const KEY = 'warren.token';

/** Who is signed in: the token and what `GET /v1/whoami` said of it. */
export interface Session {
  token: string;
  who: Whoami;
}

let current: Session | null = null;
const listeners = new Set<() => void>();

/** The token kept for this tab, if any (the page was reloaded while signed in). */
export function storedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

/** The session, or null when signed out. */
export function session(): Session | null {
  return current;
}

/** Signs in (or out, with null) and tells every listener. */
export function setSession(next: Session | null): void {
  current = next;
  if (next) sessionStorage.setItem(KEY, next.token);
  else sessionStorage.removeItem(KEY);
  for (const l of listeners) l();
}

/** Calls `listener` on each sign-in and sign-out; returns the unsubscribe. */
export function onSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether the signed-in role is `role` or above (the server decides anyway; this only hides what would be refused). */
export function may(role: Whoami['role']): boolean {
  const order: Whoami['role'][] = ['viewer', 'operator', 'admin'];
  return current !== null && order.indexOf(current.who.role) >= order.indexOf(role);
}
