/**
 * Malformed and mutated requests to the controller's HTTP API, generated from a seed (the same
 * seed gives the same requests), for `test/e2e/http-fuzz.e2e-spec.ts`.
 */

/** A seeded PRNG (mulberry32): `next()` in [0, 1). */
export class Prng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/** One request: method, path (with query), headers, body bytes. */
export interface FuzzRequest {
  endpoint: string;
  mutation: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

/** The ids the requests refer to: an existing task, a known host name. */
export interface FuzzIds {
  taskId: string;
  host: string;
}

interface Endpoint {
  name: string;
  method: string;
  path: (ids: FuzzIds) => string;
  /** query parameters the route takes, with a valid value */
  query: Record<string, string>;
  /** a valid body, for POSTs */
  body?: Record<string, unknown>;
}

/** Every endpoint of the API, each with a request that is valid. */
export const ENDPOINTS: Endpoint[] = [
  { name: 'GET /healthz', method: 'GET', path: () => '/healthz', query: {} },
  { name: 'GET /metrics', method: 'GET', path: () => '/metrics', query: {} },
  { name: 'GET /v1/openapi.json', method: 'GET', path: () => '/v1/openapi.json', query: {} },
  { name: 'GET /v1/hosts', method: 'GET', path: () => '/v1/hosts', query: {} },
  {
    name: 'POST /v1/hosts/:host/accept',
    method: 'POST',
    path: (i) => `/v1/hosts/${i.host}/accept`,
    query: {},
    body: { keyId: 'abc' },
  },
  { name: 'GET /v1/tasks', method: 'GET', path: () => '/v1/tasks', query: { limit: '5' } },
  {
    name: 'POST /v1/tasks',
    method: 'POST',
    path: () => '/v1/tasks',
    query: {},
    body: {
      command: 'echo fuzz',
      hosts: ['fz1', 'fz[2-3]'],
      timeoutMs: 1000,
      deliveryTimeoutMs: 1000,
      killGraceMs: 100,
      env: { A: '1' },
      cwd: '/tmp',
      concurrency: '50%',
      maxErrors: 1,
      live: true,
    },
  },
  { name: 'GET /v1/tasks/:id', method: 'GET', path: (i) => `/v1/tasks/${i.taskId}`, query: { waitMs: '10' } },
  {
    name: 'POST /v1/tasks/:id/rerun',
    method: 'POST',
    path: (i) => `/v1/tasks/${i.taskId}/rerun`,
    query: {},
    body: { only: ['unknown_host'], concurrency: 2 },
  },
  {
    name: 'POST /v1/tasks/:id/cancel',
    method: 'POST',
    path: (i) => `/v1/tasks/${i.taskId}/cancel`,
    query: {},
    body: { hosts: ['fz1'] },
  },
  { name: 'GET /v1/tasks/:id/events', method: 'GET', path: (i) => `/v1/tasks/${i.taskId}/events`, query: {} },
  {
    name: 'GET /v1/tasks/:id/results/:host/stdout',
    method: 'GET',
    path: (i) => `/v1/tasks/${i.taskId}/results/${i.host}/stdout`,
    query: { encoding: 'base64' },
  },
  { name: 'GET /v1/audit', method: 'GET', path: () => '/v1/audit', query: { limit: '3', decision: 'denied' } },
];

const ODD_VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  ' ',
  'x'.repeat(300),
  '\u0000\u202e\ud800',
  '../../etc/passwd',
  [],
  [null],
  [1, 'a', {}],
  {},
  { $gt: '' },
  { __proto__: { polluted: 1 } },
];
const BAD_SEGMENTS = ['%ff', '%', '%00', 'x'.repeat(2000), '..%2f..', 'ünï', '%E2%80%AE', 't_', '0', '-1', '%20'];
const BAD_EVENT_IDS = ['zzz', '1.2.3', '-1', 'deadbeef.-5', 'deadbeef.99999999999999999999', ' .', '\t', 'ABCDEF12.1'];
const BAD_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/xml',
  'json',
];
const BAD_METHODS = ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'MKCOL', 'LOCK'];

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/**
 * Request `i` of a fuzz run: an endpoint (in turn, so each gets its share) and one mutation of its
 * valid request, or the valid request itself (one in sixteen).
 */
export function fuzzRequest(rng: Prng, i: number, ids: FuzzIds, token: string): FuzzRequest {
  const ep = ENDPOINTS[i % ENDPOINTS.length];
  const query = new URLSearchParams(ep.query);
  let path = ep.path(ids);
  let method = ep.method;
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: string | Buffer | undefined = ep.body ? JSON.stringify(ep.body) : undefined;
  const fields = Object.keys(ep.body ?? {});
  const kinds = [
    'valid',
    'bad-json',
    'wrong-type',
    'unknown-field',
    'deep-nesting',
    'huge-field',
    'bad-id',
    'unknown-query',
    'repeated-query',
    'bad-number-query',
    'bad-method',
    'bad-content-type',
    'body-on-get',
    'bad-last-event-id',
    'array-body',
    'proto-keys',
  ];
  const mutation = kinds[rng.int(kinds.length)];
  switch (mutation) {
    case 'bad-json':
      body = (body ?? '{"a":1}').slice(0, rng.int((body ?? '{"a":1}').length));
      body += rng.pick(['', '}', ',', '"', '\\', '\u0000', 'nul', '{"a":}', ']']);
      break;
    case 'wrong-type':
      if (fields.length) body = JSON.stringify({ ...ep.body, [rng.pick(fields)]: rng.pick(ODD_VALUES) });
      else query.set(rng.pick(['limit', 'waitMs', 'x']), JSON.stringify(rng.pick(ODD_VALUES)));
      break;
    case 'unknown-field':
      body = JSON.stringify({ ...ep.body, [rng.pick(['extra', 'constructor', 'Command', 'hosts '])]: 1 });
      break;
    case 'deep-nesting':
      body = `{"${fields.length ? rng.pick(fields) : 'x'}":${nested(rng.pick([40, 1000, 20_000]))}}`;
      break;
    case 'huge-field':
      // Mostly just under or over a field's limit; now and then a body over the 8 MiB limit.
      if (rng.int(64) === 0) body = `{"command":"${'a'.repeat(9 * 1024 * 1024)}"}`;
      else
        body = JSON.stringify({
          ...ep.body,
          [fields.length ? rng.pick(fields) : 'x']: 'y'.repeat(rng.pick([70_000, 140_000])),
        });
      break;
    case 'bad-id':
      path = path.replace(ids.taskId, rng.pick(BAD_SEGMENTS)).replace(`/${ids.host}/`, `/${rng.pick(BAD_SEGMENTS)}/`);
      if (!path.includes('%') && path === ep.path(ids)) path += `/${rng.pick(BAD_SEGMENTS)}`;
      break;
    case 'unknown-query':
      query.set(rng.pick(['foo', 'limit[a]', 'waitMS', '__proto__', '']), rng.pick(['1', '', 'x']));
      break;
    case 'repeated-query':
      query.append(rng.pick([...Object.keys(ep.query), 'limit']), '2');
      query.append(rng.pick([...Object.keys(ep.query), 'limit']), '3');
      break;
    case 'bad-number-query':
      query.set(
        rng.pick(['limit', 'waitMs']),
        rng.pick(['abc', '', '1e400', '-', '0x10', '1.5', '99999999999999999999', ' 1']),
      );
      break;
    case 'bad-method':
      method = rng.pick(BAD_METHODS);
      break;
    case 'bad-content-type':
      body = body ?? '{}';
      headers['content-type'] = rng.pick(BAD_TYPES);
      break;
    case 'body-on-get':
      body = body ?? `{"limit":${rng.int(10)}}`;
      break;
    case 'bad-last-event-id':
      headers['last-event-id'] = rng.pick(BAD_EVENT_IDS);
      break;
    case 'array-body':
      body = rng.pick(['[]', '[1,2]', '"text"', '42', 'null', 'true', '[{"command":"x"}]']);
      break;
    case 'proto-keys':
      body = `{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}${body && body.length > 2 ? `,${body.slice(1)}` : '}'}`;
      break;
  }
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  const qs = query.toString();
  return {
    endpoint: ep.name,
    mutation,
    method,
    path: qs ? `${path}?${qs}` : path,
    headers,
    body: body === undefined ? undefined : Buffer.from(body),
  };
}

/** Raw bytes that are not valid HTTP/1.1 (each ends its headers, so the server answers at once). */
export function rawRequest(rng: Prng): { mutation: string; bytes: Buffer } {
  const kinds: [string, () => string][] = [
    ['bad-request-line', () => `G\u0001T /v1/hosts HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['bad-version', () => `GET /v1/hosts HTTP/9.7\r\nHost: x\r\n\r\n`],
    ['control-char-header', () => `GET /v1/hosts HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n`],
    ['header-overflow', () => `GET /v1/hosts HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['space-before-colon', () => `GET /v1/hosts HTTP/1.1\r\nHost : x\r\n\r\n`],
    [
      'bad-chunk',
      () =>
        `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
    [
      'cl-and-te',
      () => `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['bad-content-length', () => `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n`],
    ['unknown-method', () => `BREW /v1/hosts HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['binary', () => Buffer.from(Array.from({ length: 64 }, () => rng.int(256))).toString('latin1') + '\r\n\r\n'],
  ];
  const [mutation, make] = rng.pick(kinds);
  return { mutation, bytes: Buffer.from(make(), 'latin1') };
}
