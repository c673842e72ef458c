import type { ApiErrorBody } from '@warren/api/common.contract';
import { session, setSession } from './session';

/** A non-2xx answer of the API, with the controller's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The controller's message of an error body (one string, or one per bad field). */
function messageOf(status: number, body: unknown): string {
  const m = (body as ApiErrorBody | null)?.message;
  if (Array.isArray(m)) return m.join('; ');
  return typeof m === 'string' ? m : `HTTP ${status}`;
}

/** The headers every call carries: the bearer token, and JSON when there is a body. */
export function authHeaders(token = session()?.token, json = false): Record<string, string> {
  const h: Record<string, string> = {};
  if (token) h.authorization = `Bearer ${token}`;
  if (json) h['content-type'] = 'application/json';
  return h;
}

/**
 * A 401 anywhere means the token is gone (revoked, or never valid): sign out, which brings back the
 * sign-in form. Every reader of the API calls this on its response.
 */
export function checkUnauthorized(res: Response): void {
  if (res.status === 401 && session()) setSession(null);
}

/** One JSON call to `/v1…` with the session's token (or `token`); throws {@link ApiError} on a non-2xx. */
export async function api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: authHeaders(token ?? session()?.token, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  if (!token) checkUnauthorized(res);
  const text = await res.text();
  const parsed: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, messageOf(res.status, parsed));
  return parsed as T;
}

/** A query string of the set values: `?state=failed&q=df`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** An error as one line for the page. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
