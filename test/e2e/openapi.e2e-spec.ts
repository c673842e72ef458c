import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpenApiDoc, OpenApiValidator, problemsOf } from '../support/openapi-validator';
import { Warren } from './harness';

const ROOT = resolve(__dirname, '../..');
const HOST = 'oa1';

interface Answer {
  status: number;
  type: string;
  text: string;
  body: unknown;
  headers: Headers;
}

interface Doc extends OpenApiDoc {
  paths: Record<string, Record<string, never>>;
}

/** An SSE body's events: `{id, event, data}` each (WHATWG HTML §9.2; Warren sends one `data:` line per event). */
function sseEvents(text: string): { id?: string; event: string; data: unknown }[] {
  const events: { id?: string; event: string; data: unknown }[] = [];
  for (const block of text.split('\n\n')) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (m) fields[m[1]] = m[2];
    }
    if (fields.event) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
  }
  return events;
}

describe('the OpenAPI document against the real API', () => {
  const w = new Warren();
  let doc: Doc;
  let v: OpenApiValidator;
  let viewer = '';
  /** `METHOD /template` → the statuses seen, each validated against the document */
  const seen = new Map<string, Set<number>>();

  /**
   * Sends a request to the route `template` (its `{params}` filled from `params`) and validates the
   * answer against the served document: its status must be one the document lists for the route,
   * and its body must match that answer's schema for its media type (each event's data, for the
   * event stream). Returns the answer.
   */
  async function call(
    method: string,
    template: string,
    opts: {
      params?: Record<string, string>;
      query?: string;
      body?: unknown;
      raw?: { type: string; bytes: string };
      token?: string | null;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer> {
    const path = template.replace(/\{(\w+)\}/g, (_, p: string) => encodeURIComponent(opts.params![p]));
    const token = opts.token === undefined ? w.token : opts.token;
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers };
    let body: string | undefined;
    if (opts.raw) [headers['content-type'], body] = [opts.raw.type, opts.raw.bytes];
    else if (opts.body !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(opts.body)];
    const url = `${w.url}${path}${opts.query ? `?${opts.query}` : ''}`;
    // A GET is sent again once when a kept-alive socket was closed under it: the server's 5 s
    // keep-alive timer and the client's reuse of the socket can cross on a loaded machine
    // (undici: `other side closed`), which says nothing about the API.
    const res = await fetch(url, { method, headers, body }).catch((err: Error & { cause?: { code?: string } }) => {
      if (method !== 'GET' || err.cause?.code !== 'UND_ERR_SOCKET') throw err;
      return fetch(url, { method, headers, body });
    });
    const text = await res.text();
    const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const answer = {
      status: res.status,
      type,
      text,
      body: type === 'application/json' ? JSON.parse(text) : text,
      headers: res.headers,
    };
    const key = `${method} ${template}`;
    (seen.get(key) ?? seen.set(key, new Set()).get(key)!).add(res.status);
    if (type === 'text/event-stream') {
      v.response(method, template, res.status, type); // the document lists the stream
      const events = sseEvents(text);
      expect(events.length, `${key}: no events`).toBeGreaterThan(0);
      for (const e of events) {
        const validate = v.event(template, e.event);
        expect(validate(e.data), `${key} event ${e.event}: ${problemsOf(validate)}`).toBe(true);
      }
    } else {
      const validate = v.response(method, template, res.status, type);
      const value = type === 'application/json' ? answer.body : text;
      expect(validate(value), `${key} → ${res.status} ${text.slice(0, 300)}:\n${problemsOf(validate)}`).toBe(true);
    }
    for (const h of v.headers(method, template, res.status)) {
      const value = res.headers.get(h.name);
      if (value === null) expect(h.required, `${key} → ${res.status}: no ${h.name} header`).toBe(false);
      else expect(h.validate(value), `${key} → ${res.status}: ${h.name}: ${value}`).toBe(true);
    }
    // What the API took, the document must take too.
    if (res.status < 300 && opts.body !== undefined) {
      const validate = v.requestBody(method, template);
      expect(validate(opts.body), `${key} request body: ${problemsOf(validate)}`).toBe(true);
    }
    return answer;
  }

  beforeAll(async () => {
    await w.startController();
    await w.startAgent(HOST);
    viewer = w.createToken('viewer', 'viewer');
    const res = await fetch(`${w.url}/v1/openapi.json`);
    doc = (await res.json()) as Doc;
    v = new OpenApiValidator(doc);
  });
  afterAll(() => w.teardown());

  it('is served without a token, and docs/openapi.json is the same document', async () => {
    const res = await call('GET', '/v1/openapi.json', { token: null });
    expect(res.status).toBe(200);
    const committed = JSON.parse(readFileSync(resolve(ROOT, 'docs/openapi.json'), 'utf8')) as unknown;
    expect(committed, 'docs/openapi.json is stale: run `npm run openapi` and commit it').toEqual(res.body);
  });

  it('lists exactly the routes Nest registers', () => {
    const mapped = [...w.controller!.output.matchAll(/"Mapped \{([^,]+), (\w+)\} route"/g)].map(
      (m) => `${m[2].toLowerCase()} ${m[1].replace(/:(\w+)/g, '{$1}')}`,
    );
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    expect(mapped.length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual([...new Set(mapped)].sort());
  });

  it('describes every answer of the task routes: happy paths and refusals', async () => {
    const done = await call('POST', '/v1/tasks', {
      body: { command: 'echo out; echo err >&2', hosts: [HOST], wait: true },
    });
    expect(done.status).toBe(200);
    const id = (done.body as { id: string }).id;
    expect((await call('POST', '/v1/tasks', { body: { command: 'true', hosts: [HOST] } })).status).toBe(202);
    expect((await call('POST', '/v1/tasks', { body: { command: 'true', all: true, dryRun: true } })).status).toBe(200);
    expect((await call('POST', '/v1/tasks', { body: { command: 5, hosts: [HOST] } })).status).toBe(400);
    expect((await call('POST', '/v1/tasks', { body: { command: 'true', hosts: [HOST] }, token: null })).status).toBe(
      401,
    );
    expect((await call('POST', '/v1/tasks', { body: { command: 'true', hosts: [HOST] }, token: viewer })).status).toBe(
      403,
    );
    expect((await call('POST', '/v1/tasks', { body: { command: 'true', hosts: ['nomatch*'] } })).status).toBe(422);
    expect((await call('POST', '/v1/tasks', { raw: { type: 'text/plain', bytes: 'echo' } })).status).toBe(415);
    const huge = JSON.stringify({ command: 'x'.repeat(9 * 1024 * 1024) });
    expect((await call('POST', '/v1/tasks', { raw: { type: 'application/json', bytes: huge } })).status).toBe(413);

    expect((await call('GET', '/v1/tasks', { query: 'limit=5' })).status).toBe(200);
    expect((await call('GET', '/v1/tasks', { query: 'limit=abc' })).status).toBe(400);
    expect((await call('GET', '/v1/tasks', { query: 'limt=5' })).status).toBe(400);
    expect((await call('GET', '/v1/tasks', { query: 'state=completed&q=true&limit=5' })).status).toBe(200);
    expect((await call('GET', '/v1/tasks/{id}', { params: { id } })).status).toBe(200);
    expect((await call('GET', '/v1/tasks/{id}', { params: { id: 't_nonesuch' } })).status).toBe(404);

    const rerun = '/v1/tasks/{id}/rerun';
    expect((await call('POST', rerun, { params: { id }, body: { only: ['succeeded'], wait: true } })).status).toBe(200);
    expect((await call('POST', rerun, { params: { id }, body: { only: ['succeeded'] } })).status).toBe(202);
    expect((await call('POST', rerun, { params: { id }, body: { only: ['failed'] } })).status).toBe(422);
    expect((await call('POST', rerun, { params: { id: 't_nonesuch' }, body: {} })).status).toBe(404);

    const cancel = '/v1/tasks/{id}/cancel';
    expect((await call('POST', cancel, { params: { id }, body: {} })).status).toBe(200);
    expect((await call('POST', cancel, { params: { id }, body: { hosts: ['zz9'] } })).status).toBe(422);
    expect((await call('POST', cancel, { params: { id: 't_nonesuch' }, body: {} })).status).toBe(404);

    const events = '/v1/tasks/{id}/events';
    const stream = await call('GET', events, { params: { id } });
    const names = sseEvents(stream.text).map((e) => e.event);
    expect([names[0], names.includes('output'), names.at(-2), names.at(-1)]).toEqual([
      'started',
      true,
      'result',
      'completed',
    ]);
    expect((await call('GET', events, { params: { id }, headers: { 'last-event-id': 'nonsense' } })).status).toBe(400);
    expect((await call('GET', events, { params: { id: 't_nonesuch' } })).status).toBe(404);

    for (const stream of ['stdout', 'stderr']) {
      const route = `/v1/tasks/{id}/results/{host}/${stream}`;
      const bytes = await call('GET', route, { params: { id, host: HOST } });
      expect([bytes.status, bytes.type, bytes.text]).toEqual([
        200,
        'application/octet-stream',
        stream === 'stdout' ? 'out\n' : 'err\n',
      ]);
      expect((await call('GET', route, { params: { id, host: HOST }, query: 'encoding=base64' })).type).toBe(
        'application/json',
      );
      expect((await call('GET', route, { params: { id, host: HOST }, query: 'encoding=hex' })).status).toBe(400);
      expect((await call('GET', route, { params: { id, host: 'zz9' } })).status).toBe(404);
    }
  });

  it('describes every answer of the file routes: upload, put and get tasks, a fetched file', async () => {
    const uploaded = await call('POST', '/v1/files', {
      query: 'name=motd',
      raw: { type: 'application/octet-stream', bytes: 'hello\n' },
    });
    expect(uploaded.status).toBe(201);
    const sha = (uploaded.body as { sha256: string }).sha256;
    const again = { raw: { type: 'application/octet-stream', bytes: 'hello\n' } };
    expect((await call('POST', '/v1/files', again)).status).toBe(200);
    expect((await call('POST', '/v1/files', { raw: { type: 'text/plain', bytes: 'x' } })).status).toBe(415);
    expect((await call('POST', '/v1/files', { ...again, token: null })).status).toBe(401);
    expect((await call('POST', '/v1/files', { ...again, token: viewer })).status).toBe(403);
    const put = { file: sha, dest: '/tmp/warren-openapi-motd', mode: '0644' };
    expect((await call('POST', '/v1/tasks', { body: { put, hosts: [HOST], dryRun: true } })).status).toBe(200);
    expect(
      (await call('POST', '/v1/tasks', { body: { put: { ...put, file: 'f'.repeat(64) }, hosts: [HOST] } })).status,
    ).toBe(422);
    expect((await call('POST', '/v1/tasks', { body: { put, command: 'true', hosts: [HOST] } })).status).toBe(400);

    // A get whose agent sent its file, as the fetched-chunk consumer stores it (the agent's part is
    // its own spec's): written to the database, read back through the API.
    const bytes = Buffer.from('line 1\nline 2\n');
    const digest = createHash('sha256').update(bytes).digest('hex');
    const db = new Database(w.dbPath);
    try {
      db.prepare(
        `INSERT INTO tasks (id, command, env, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, finished_at, host_count, created_by, transfer)
         VALUES ('t_openapiget', 'get /var/log/app.log', '{}', 1000, 1000, 0, 'completed', 1, 2, 1, 'e2e', ?)`,
      ).run(JSON.stringify({ op: 'get', path: '/var/log/app.log', maxBytes: 1024 }));
      db.prepare(
        `INSERT INTO invocations (id, task_id, host, state, exit_code, started_at, finished_at, duration_ms, updated_at, sent_at, result_file)
         VALUES ('i_openapiget', 't_openapiget', ?, 'succeeded', 0, 1, 2, 1, 2, 1, ?)`,
      ).run(HOST, JSON.stringify({ sha256: digest, size: bytes.length, changed: false }));
      db.prepare(`INSERT INTO fetched_chunks (invocation_id, idx, data) VALUES ('i_openapiget', 0, ?)`).run(bytes);
    } finally {
      db.close();
    }
    const file = '/v1/tasks/{id}/results/{host}/file';
    const got = await call('GET', file, { params: { id: 't_openapiget', host: HOST } });
    expect([got.status, got.type, got.text, got.headers.get('warren-sha256')]).toEqual([
      200,
      'application/octet-stream',
      bytes.toString(),
      digest,
    ]);
    expect((await call('GET', '/v1/tasks/{id}', { params: { id: 't_openapiget' } })).status).toBe(200);
    expect((await call('GET', file, { params: { id: 't_openapiget', host: HOST }, token: viewer })).status).toBe(403);
    expect((await call('GET', file, { params: { id: 't_openapiget', host: 'zz9' } })).status).toBe(404);
    const [command] = (
      (await call('GET', '/v1/tasks', { query: 'limit=100' })).body as { tasks: { id: string; transfer: unknown }[] }
    ).tasks.filter((t) => t.transfer === null);
    expect((await call('GET', file, { params: { id: command.id, host: HOST } })).status).toBe(409);
  });

  it('describes every answer of the hosts, audit, metrics and health routes', async () => {
    expect((await call('GET', '/v1/hosts')).status).toBe(200);
    expect((await call('GET', '/v1/hosts', { token: viewer })).status).toBe(200);
    expect((await call('GET', '/v1/hosts/keys')).status).toBe(200);
    const key = 'SHA256:' + 'A'.repeat(43);
    const accept = '/v1/hosts/{host}/accept';
    expect((await call('POST', accept, { params: { host: 'ghost1' }, body: { keyId: key } })).status).toBe(200);
    expect((await call('POST', accept, { params: { host: HOST }, body: {} })).status).toBe(409);
    expect((await call('POST', accept, { params: { host: 'bad host' }, body: {} })).status).toBe(400);
    expect((await call('POST', accept, { params: { host: HOST }, body: {}, token: viewer })).status).toBe(403);
    const reject = '/v1/hosts/{host}/reject';
    expect((await call('POST', reject, { params: { host: 'ghost1' }, body: { keyId: key } })).status).toBe(200);
    expect((await call('POST', reject, { params: { host: HOST }, body: {} })).status).toBe(409);
    expect((await call('GET', '/v1/audit', { query: 'limit=50' })).status).toBe(200);
    expect((await call('GET', '/v1/audit', { query: 'decision=maybe' })).status).toBe(400);
    expect((await call('GET', '/v1/audit', { token: viewer })).status).toBe(403);
    expect((await call('GET', '/v1/audit', { query: 'limit=5&before=1' })).status).toBe(200);
    expect((await call('GET', '/v1/audit', { query: 'before=t_1' })).status).toBe(400);
    expect((await call('GET', '/v1/whoami')).status).toBe(200);
    expect((await call('GET', '/v1/whoami', { token: viewer })).status).toBe(200);
    expect((await call('GET', '/v1/whoami', { token: null })).status).toBe(401);
    const metrics = await call('GET', '/metrics');
    expect([metrics.status, metrics.type]).toEqual([200, 'text/plain']);
    expect((await call('GET', '/metrics', { token: null })).status).toBe(401);
    expect((await call('GET', '/healthz', { token: null })).status).toBe(200);
    expect((await call('GET', '/healthz', { token: null, query: 'verbose=1' })).status).toBe(400);
  });

  it('docs/examples/follow-task.mts posts a task and prints each host result from its events', async () => {
    const script = resolve(ROOT, 'docs/examples/follow-task.mts');
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'echo hello; echo again', HOST], {
      env: { ...process.env, WARREN_URL: w.url, WARREN_TOKEN: w.token },
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(out).toMatch(/^task t_\S+ on oa1$/m);
    expect(out).toMatch(/^oa1 {2}succeeded {2}exit 0 {2}\d+ ms\n {4}hello\n {4}again$/m);
    expect(out).toMatch(/^1 hosts: 1 succeeded$/m);
    expect(code, out).toBe(0);
  });

  it('describes the 429 of an address that failed authentication too often', async () => {
    let last = 0;
    for (let i = 0; i < 40 && last !== 429; i++)
      last = (await call('GET', '/v1/hosts', { token: 'wrn_nonesuch_nonesuch' })).status;
    expect(last).toBe(429);
  });

  it('had every documented route answer with success at least once', () => {
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const unanswered = documented.filter((k) => ![...(seen.get(k) ?? [])].some((s) => s < 300));
    expect(unanswered).toEqual([]);
  });
});
