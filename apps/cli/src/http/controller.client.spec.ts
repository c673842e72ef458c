import { describe, expect, it } from 'vitest';
import { ControllerClient, type FetchFn, networkReason } from './controller.client';
import { ApiError, ControllerUnreachableError } from './http.errors';

const answering =
  (status: number, body: string): FetchFn =>
  async () =>
    new Response(body, { status });

describe('ControllerClient', () => {
  it('turns a non-2xx answer into an ApiError with the API messages, whether an array or a string', async () => {
    const many = new ControllerClient(
      'http://c',
      answering(400, JSON.stringify({ statusCode: 400, message: ['a bad', 'b bad'] })),
    );
    await expect(many.listHosts()).rejects.toMatchObject({
      name: 'ApiError',
      status: 400,
      messages: ['a bad', 'b bad'],
    });
    const one = new ControllerClient(
      'http://c',
      answering(404, JSON.stringify({ statusCode: 404, message: 'task t_x not found' })),
    );
    await expect(one.getTask('t_x')).rejects.toMatchObject({ status: 404, messages: ['task t_x not found'] });
    const html = new ControllerClient('http://c', answering(502, '<html>Bad Gateway</html>'));
    const err = await html.listHosts().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.messages).toEqual(['HTTP 502']);
  });

  it("keeps a 429's Retry-After", async () => {
    const limited = new ControllerClient(
      'http://c',
      async () =>
        new Response(JSON.stringify({ statusCode: 429, message: 'too many failed authentications' }), {
          status: 429,
          headers: { 'retry-after': '2' },
        }),
    );
    await expect(limited.listHosts()).rejects.toMatchObject({ status: 429, retryAfterSec: 2 });
  });

  it('treats a 2xx answer that is not JSON as not reaching the controller', async () => {
    const client = new ControllerClient('http://c', answering(200, '<html>a login page</html>'));
    await expect(client.listHosts()).rejects.toBeInstanceOf(ControllerUnreachableError);
  });

  it('sends JSON to the base URL, keeping a path prefix and dropping a trailing slash', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const client = new ControllerClient('http://c/warren/', async (url, init) => {
      seen.push({ url, init });
      return new Response(JSON.stringify({ id: 't_1', hosts: ['a'], state: 'running' }), { status: 202 });
    });
    await client.createTask({ command: 'true', hosts: ['a'] });
    await client.getTask('t/1', 30_000).catch(() => undefined);
    expect(seen[0].url).toBe('http://c/warren/v1/tasks');
    expect(JSON.parse(seen[0].init.body as string)).toEqual({ command: 'true', hosts: ['a'] });
    expect(seen[1].url).toBe('http://c/warren/v1/tasks/t%2F1?waitMs=30000');
  });

  it('maps network failures to ControllerUnreachableError naming the cause', async () => {
    const refused = new ControllerClient('http://127.0.0.1:7070', async () => {
      throw Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:7070'), { code: 'ECONNREFUSED' }),
      });
    });
    await expect(refused.listHosts()).rejects.toThrow(
      'cannot reach the controller at http://127.0.0.1:7070: connect ECONNREFUSED 127.0.0.1:7070',
    );
  });
});

describe('networkReason', () => {
  it('says what to do about an untrusted certificate and about HTTP and HTTPS mixed up', () => {
    const untrusted = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(networkReason(untrusted, 10_000, 'https://c:7070')).toBe(
      'its TLS certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN): give the CA that signed it with --ca FILE (or WARREN_CA)',
    );
    const hangUp = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(networkReason(hangUp, 10_000, 'http://c:7070')).toMatch(
      /if the controller serves HTTPS, use an https:\/\/ URL$/,
    );
    const plain = Object.assign(new Error('1C0A:error:0A00010B:SSL routines:ssl3_get_record:wrong version number'), {
      code: 'EPROTO',
    });
    expect(networkReason(plain, 10_000, 'https://c:7070')).toMatch(/if it serves plain HTTP, use an http:\/\/ URL$/);
    expect(networkReason(hangUp, 10_000, 'https://c:7070')).toBe('socket hang up');
  });

  it('explains timeouts, and finds the socket error inside an AggregateError cause', () => {
    expect(networkReason(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 10_000)).toBe(
      'no answer within 10 s',
    );
    const both = Object.assign(new TypeError('fetch failed'), {
      cause: Object.assign(
        new AggregateError(
          [new Error('connect ECONNREFUSED ::1:7070'), new Error('connect ECONNREFUSED 127.0.0.1:7070')],
          '',
        ),
        { code: 'ECONNREFUSED' },
      ),
    });
    expect(networkReason(both, 10_000)).toBe('connect ECONNREFUSED ::1:7070');
  });
});
