import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';

/** `request` of `node:http` or `node:https`: the same signature. */
export type RequestFn = (
  url: URL,
  options: RequestOptions,
  onResponse: (res: IncomingMessage) => void,
) => ClientRequest;

/** TLS settings of the CLI's connections to an https:// controller. */
export interface ClientTls {
  /** PEM CA certificate(s) the controller's certificate must chain to (`--ca`); default: Node's CAs */
  ca?: Buffer;
}

/**
 * `node:https`'s `request` for an https: URL, else `node:http`'s. `node:https` (and the TLS stack
 * under it) is loaded only for an https: URL: it costs a few ms of start-up that a plain-HTTP
 * `warren` run need not pay.
 */
export async function requestFor(url: URL): Promise<RequestFn> {
  return url.protocol === 'https:' ? (await import('node:https')).request : (await import('node:http')).request;
}

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * The TLS or protocol-mismatch reason of a failed connection to `url`, in words that say what to
 * do; null when the error is none of those.
 */
export function tlsReason(err: unknown, url: string): string | null {
  const e = err as { code?: string; message?: string };
  const code = e?.code ?? '';
  const https = url.startsWith('https:');
  if (UNTRUSTED.has(code))
    return `its TLS certificate is not trusted (${code}): give the CA that signed it with --ca FILE (or WARREN_CA)`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `its TLS certificate is not valid now (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its TLS certificate does not name this host: ${e.message}`;
  if (https && (code === 'EPROTO' || /wrong version number|packet length too long/.test(e?.message ?? '')))
    return `it does not speak TLS on this port (${e.message}); if it serves plain HTTP, use an http:// URL`;
  if (!https && (code === 'ECONNRESET' || code === 'HPE_INVALID_CONSTANT' || e?.message === 'socket hang up'))
    return `the connection was closed without an HTTP answer (${e.message}); if the controller serves HTTPS, use an https:// URL`;
  return null;
}
