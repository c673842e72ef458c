import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { accessLogProps, accessLogRequest, REDACTED, redactUrlQuery } from './access-log';

const SECRET = 'wrn_abcdefgh12_SECRETSECRETSECRET';

describe('access log: no secret in a request line', () => {
  it('keeps only allow-listed headers: Authorization, Cookie and unknown headers never appear', () => {
    const line = accessLogRequest({
      id: 1,
      method: 'GET',
      url: '/v1/hosts',
      headers: {
        authorization: `Bearer ${SECRET}`,
        cookie: `session=${SECRET}`,
        'proxy-authorization': `Basic ${SECRET}`,
        'x-api-key': SECRET,
        'user-agent': 'warren-cli',
        host: '127.0.0.1:7070',
      },
      remoteAddress: '127.0.0.1',
    });
    expect(JSON.stringify(line)).not.toContain(SECRET);
    expect(line.headers).toEqual({ 'user-agent': 'warren-cli', host: '127.0.0.1:7070' });
    expect(line).toMatchObject({ id: 1, method: 'GET', url: '/v1/hosts', remoteAddress: '127.0.0.1' });
  });

  it('redacts the value of token-bearing query parameters and keeps the others', () => {
    expect(redactUrlQuery(`/v1/tasks?access_token=${SECRET}&limit=5`)).toBe(
      `/v1/tasks?access_token=${REDACTED}&limit=5`,
    );
    expect(redactUrlQuery(`/v1/events?token=${SECRET}`)).toBe(`/v1/events?token=${REDACTED}`);
    expect(redactUrlQuery(`/x?API_KEY=${SECRET}&password=${SECRET}`)).not.toContain(SECRET);
    // an encoded name is decoded before it is judged
    expect(redactUrlQuery(`/x?access%5Ftoken=${SECRET}`)).not.toContain(SECRET);
    expect(redactUrlQuery('/v1/tasks?limit=5&host=web1')).toBe('/v1/tasks?limit=5&host=web1');
    expect(redactUrlQuery('/v1/tasks')).toBe('/v1/tasks');
  });

  it('redacts a parameter whose name cannot be decoded', () => {
    expect(redactUrlQuery(`/x?%E0%A4=${SECRET}`)).toBe(`/x?%E0%A4=${REDACTED}`);
  });

  it('drops the parsed query, so a secret cannot come back through it', () => {
    const line = accessLogRequest({ url: `/v1/tasks?token=${SECRET}`, query: { token: SECRET } } as never);
    expect(JSON.stringify(line)).not.toContain(SECRET);
  });

  it("names the request's token by its name once authenticated, and nothing before", () => {
    const req = {} as IncomingMessage & { principal?: { name: string } };
    expect(accessLogProps(req)).toEqual({});
    req.principal = { name: 'alice' };
    expect(accessLogProps(req)).toEqual({ principal: 'alice' });
  });
});
