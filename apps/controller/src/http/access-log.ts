import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthedRequest } from '../auth/principal';

/** What the access log prints in place of a secret. */
export const REDACTED = '[redacted]';

/**
 * The request headers an access-log line shows, by name (lower case); every other header is left
 * out. An allow-list rather than a deny-list: `Authorization`, `Cookie`, `Proxy-Authorization`,
 * `X-Api-Key` and whatever header a proxy or client invents next to carry a secret never reach the log.
 */
const LOGGED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'content-type',
  'content-length',
  'last-event-id',
  'x-forwarded-for',
  'x-request-id',
]);

/** A query parameter whose value is a secret by its name: `access_token`, `token`, `api_key`, `password`, … */
const SECRET_QUERY_NAME = /token|key|secret|pass|auth|cookie|session|sig/i;

/** The request as pino's standard serializer hands it over (the fields it logs). */
interface SerializedRequest {
  id?: unknown;
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
  remoteAddress?: string;
  remotePort?: number;
}

/**
 * `url` with the value of every secret-named query parameter ({@link SECRET_QUERY_NAME}) replaced
 * by {@link REDACTED}; other parameters and the path are kept as sent. Text that is not a
 * path-and-query is returned with its whole query redacted.
 */
export function redactUrlQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded: string;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        return `${name}=${REDACTED}`;
      }
      return eq >= 0 && SECRET_QUERY_NAME.test(decoded) ? `${name}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/**
 * The access log's `req` serializer: id, method, URL (secret query values redacted), the
 * allow-listed headers ({@link LOGGED_HEADERS}) and the client's address. No parsed `query` or
 * `params` (the URL has them), no credential, whatever the status.
 */
export function accessLogRequest(req: SerializedRequest): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(req.headers ?? {}))
    if (LOGGED_HEADERS.has(name.toLowerCase())) headers[name] = value;
  return {
    id: req.id,
    method: req.method,
    url: req.url === undefined ? undefined : redactUrlQuery(req.url),
    headers,
    remoteAddress: req.remoteAddress,
    remotePort: req.remotePort,
  };
}

/**
 * The access log's extra fields: `principal`, the name of the API token the request
 * authenticated with (set by the auth guard), so a line says who asked without the secret.
 */
export function accessLogProps(req: IncomingMessage, _res?: ServerResponse): Record<string, string> {
  const principal = (req as AuthedRequest).principal;
  return principal ? { principal: principal.name } : {};
}
