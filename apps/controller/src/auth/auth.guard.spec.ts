import 'reflect-metadata';
import {
  Body,
  Controller,
  Delete,
  type ExecutionContext,
  Get,
  type INestApplication,
  Module,
  Post,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, NestFactory, Reflector } from '@nestjs/core';
import { IsString } from 'class-validator';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_LOGGER } from '@warren/runtime';
import { AggregatingAuditLog } from '../audit/aggregating-audit.log';
import { AUDIT_LOG, type AuditEvent, type AuditQuery } from '../audit/audit.port';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import { HttpExceptionFilter } from '../errors/http-exception.filter';
import { validationPipe } from '../errors/validation.pipe';
import { openDatabase } from '../store/database';
import { AuthFailureLimiter, InMemoryAuthFailureLimiter } from './auth-failure.limiter';
import { AuditAs, Public, Roles } from './auth.decorators';
import { AuthGuard } from './auth.guard';
import { RefusalAuditInterceptor } from './refusal-audit.interceptor';
import { CurrentPrincipal, type Principal } from './principal';
import { TokenService } from './token.service';
import { SqliteTokenStore } from './token.store';

class Thing {
  @IsString()
  command: string;
}

@Controller()
class ProbeController {
  @Get('open')
  @Public()
  open() {
    return { ok: true };
  }

  @Get('read')
  read(@CurrentPrincipal() who: Principal) {
    return { name: who.name, role: who.role, hostPatterns: who.hostPatterns, tokenId: who.tokenId };
  }

  @Post('write')
  @Roles('operator')
  @AuditAs('task.create')
  write(@Body() body: Thing) {
    return body;
  }

  @Delete('thing')
  remove() {
    return { removed: true };
  }
}

const db = openDatabase(':memory:');
const clock = new ManualClock();
const tokens = new TokenService(new SqliteTokenStore(db), clock);
const store = new SqliteAuditLog(db, clock);
let audit = new AggregatingAuditLog(store, clock);
let limiter = new InMemoryAuthFailureLimiter(clock);

@Module({
  controllers: [ProbeController],
  providers: [
    { provide: ROOT_LOGGER, useValue: pino({ level: 'silent' }) },
    { provide: TokenService, useValue: tokens },
    {
      provide: AUDIT_LOG,
      useValue: {
        record: (e: AuditEvent) => audit.record(e),
        recordMany: (es: readonly AuditEvent[]) => audit.recordMany(es),
        query: (q: AuditQuery) => audit.query(q),
      },
    },
    {
      provide: AuthFailureLimiter,
      useFactory: () => ({ admit: (s: string) => limiter.admit(s), failed: (s: string) => limiter.failed(s) }),
    },
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_INTERCEPTOR, useClass: RefusalAuditInterceptor },
    { provide: APP_FILTER, useClass: HttpExceptionFilter },
  ],
})
class ProbeModule {}

describe('AuthGuard', () => {
  let app: INestApplication;
  let url: string;
  const t: Record<string, string> = {};

  beforeAll(async () => {
    app = await NestFactory.create(ProbeModule, { logger: false });
    app.useGlobalPipes(validationPipe());
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
    for (const role of ['viewer', 'operator', 'admin'] as const)
      t[role] = (await tokens.create(role, role, role === 'operator' ? ['web*'] : null)).text;
    t.revoked = (await tokens.create('gone', 'admin', null)).text;
    await tokens.revoke('gone');
  });
  afterAll(() => app.close());
  beforeEach(() => {
    db.exec('DELETE FROM audit_log');
    limiter = new InMemoryAuthFailureLimiter(clock);
    audit = new AggregatingAuditLog(store, clock);
  });

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = token.includes(' ') ? token : `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url.replace('[::1]', '127.0.0.1') + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      auth: res.headers.get('www-authenticate'),
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as { message?: string },
    };
  };

  it('lets anyone reach a @Public() route', async () => {
    expect(await call('GET', '/open')).toMatchObject({ status: 200 });
    expect(await audit.query({ limit: 10 })).toEqual([]);
  });

  it.each([
    ['no Authorization header', undefined, 'no token'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 'Authorization header is not a bearer token'],
    ['a malformed token', 'hunter2', 'malformed token'],
    ['an unknown token', 'wrn_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'unknown token'],
  ])('answers 401 with WWW-Authenticate: Bearer to %s, and audits it', async (_what, token, reason) => {
    const r = await call('GET', '/read', token);
    expect(r.status).toBe(401);
    expect(r.auth).toMatch(/^Bearer/);
    expect(r.body).toMatchObject({ statusCode: 401, message: expect.stringMatching(/warren-controller token create/) });
    expect(await audit.query({ limit: 10 })).toEqual([
      expect.objectContaining({
        actor: 'anonymous',
        source: '127.0.0.1',
        action: 'api.request',
        decision: 'denied',
        reason,
        detail: { method: 'GET', path: '/read', status: 401 },
      }),
    ]);
  });

  it('refuses a revoked token by name', async () => {
    const r = await call('GET', '/read', t.revoked);
    expect(r).toMatchObject({ status: 401, body: { message: expect.stringMatching(/"gone" was revoked/) } });
    expect((await audit.query({ limit: 10 }))[0]).toMatchObject({ actor: 'gone', reason: 'token revoked' });
  });

  it('gives the handler the principal of a valid token', async () => {
    const r = await call('GET', '/read', t.operator);
    expect(r).toMatchObject({ status: 200, body: { name: 'operator', role: 'operator', hostPatterns: ['web*'] } });
  });

  it('lets a role reach its routes and those below, never above; unannotated writes need admin', async () => {
    expect((await call('GET', '/read', t.viewer)).status).toBe(200);
    expect((await call('POST', '/write', t.viewer, { command: 'x' })).status).toBe(403);
    expect((await call('POST', '/write', t.operator, { command: 'x' })).status).toBe(201);
    expect((await call('POST', '/write', t.admin, { command: 'x' })).status).toBe(201);
    expect((await call('DELETE', '/thing', t.operator)).status).toBe(403);
    expect((await call('DELETE', '/thing', t.admin)).status).toBe(200);
  });

  it('audits a 403 under the route action with what was attempted', async () => {
    const r = await call('POST', '/write', t.viewer, { command: 'rm -rf /tmp/x', hosts: ['web1'] });
    expect(r.body.message).toMatch(/role viewer; POST \/write needs operator/);
    expect(await audit.query({ limit: 10 })).toEqual([
      expect.objectContaining({
        actor: 'viewer',
        action: 'task.create',
        decision: 'denied',
        command: 'rm -rf /tmp/x',
        hosts: ['web1'],
        reason: 'role viewer below operator',
      }),
    ]);
  });

  it('audits an invalid body on an audited route, naming the field', async () => {
    const r = await call('POST', '/write', t.operator, { command: 42 });
    expect(r.status).toBe(400);
    expect(await audit.query({ limit: 10 })).toEqual([
      expect.objectContaining({
        actor: 'operator',
        action: 'task.create',
        decision: 'denied',
        reason: expect.stringMatching(/^invalid request: command must be a string/),
      }),
    ]);
  });

  describe('failed authentication, limited per address (10/s, burst 20)', () => {
    const bad = 'wrn_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

    it('answers 429 with Retry-After once the burst is spent, even to a valid token, until the bucket refills', async () => {
      for (let i = 0; i < 20; i++) expect((await call('GET', '/read', bad)).status).toBe(401);
      const refused = await call('GET', '/read', bad);
      expect(refused).toMatchObject({
        status: 429,
        retryAfter: '1',
        body: {
          statusCode: 429,
          error: 'Too Many Requests',
          message: expect.stringMatching(/too many failed authentications/),
        },
      });
      // A guesser must not learn that a guess was right: the good token is refused too, unlooked at.
      expect((await call('GET', '/read', t.viewer)).status).toBe(429);
      expect((await call('GET', '/open')).status).toBe(200);
      clock.advance(99);
      expect((await call('GET', '/read', t.viewer)).status).toBe(429);
      clock.advance(1); // 100 ms at 10/s: one more try
      expect((await call('GET', '/read', t.viewer)).status).toBe(200);
      expect((await call('GET', '/read', bad)).status).toBe(401);
      expect((await call('GET', '/read', bad)).status).toBe(429);
      clock.advance(2000); // a full bucket again
      for (let i = 0; i < 20; i++) expect((await call('GET', '/read', bad)).status).toBe(401);
      expect((await call('GET', '/read', bad)).status).toBe(429);
    });

    it('audits 1,000 failed authentications from one address as a handful of records whose counts sum to 1,000', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 1000; i++) statuses.push((await call('GET', '/read', bad)).status);
      expect(statuses.filter((st) => st === 401)).toHaveLength(20);
      // Within the minute: the first 401 and the first 429 only.
      let records = await audit.query({ limit: 2000 });
      expect(records.map((r) => [r.reason, r.count])).toEqual([
        [expect.stringMatching(/^too many failed authentications/), 1],
        ['unknown token', 1],
      ]);
      clock.advance(60_000); // the minute is over: one record each for its repeats
      records = await audit.query({ limit: 2000 });
      expect(records).toHaveLength(4);
      expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
      expect(
        records
          .slice(0, 2)
          .map((r) => r.count)
          .sort((x, y) => x - y),
      ).toEqual([19, 979]);
      expect(records[0]).toMatchObject({
        actor: 'anonymous',
        source: '127.0.0.1',
        decision: 'denied',
        detail: expect.objectContaining({ repeatedSince: expect.any(String) }),
      });
      // A quiet address: nothing more is written.
      clock.advance(600_000);
      expect(await audit.query({ limit: 2000 })).toHaveLength(4);
    }, 60_000);

    it('refuses, audits and explains a token whose stored host pattern no longer meets the pattern rules', async () => {
      const old = await tokens.create('legacy', 'viewer', ['web*']);
      // Written before brackets were limited to 12 digits: the store holds what the rules now refuse.
      db.prepare('UPDATE api_tokens SET host_patterns = ? WHERE name = ?').run('["n[1-9999999999999]"]', 'legacy');
      const r = await call('GET', '/read', old.text);
      expect(r.status).toBe(403);
      expect(r.body.message).toMatch(
        /the token "legacy" has a host pattern that no longer meets the pattern rules .*revoke it/,
      );
      const records = await audit.query({ limit: 10 });
      expect(records[0]).toMatchObject({ actor: 'legacy', decision: 'denied' });
      expect(records[0].reason).toMatch(/^token host pattern no longer valid: /);
    });

    it('folds 1,000 failed authentications from addresses rotated within one IPv6 /64 as one source', async () => {
      const guard = new AuthGuard(
        new Reflector(),
        tokens,
        limiter,
        {
          record: (e: AuditEvent) => audit.record(e),
          recordMany: (es: readonly AuditEvent[]) => audit.recordMany(es),
          query: (q: AuditQuery) => audit.query(q),
        },
        pino({ level: 'silent' }),
      );
      const refusals: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const req = {
          method: 'GET',
          path: '/read',
          headers: { authorization: 'Bearer wt_guessed' },
          socket: { remoteAddress: `2001:db8:1:2:${(i + 1).toString(16)}::1` },
        };
        const ctx = {
          getType: () => 'http',
          getHandler: () => ProbeController.prototype.read,
          getClass: () => ProbeController,
          switchToHttp: () => ({ getRequest: () => req }),
        } as unknown as ExecutionContext;
        await guard.canActivate(ctx).catch((err: Error) => refusals.push(err.name));
      }
      expect(refusals).toHaveLength(1000);
      clock.advance(60_000);
      const records = await audit.query({ limit: 2000 });
      expect(records).toHaveLength(4);
      expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
      expect(new Set(records.map((r) => r.source))).toEqual(new Set(['2001:db8:1:2::/64']));
    });

    it('never counts a valid token, a 403, or a public route', async () => {
      for (let i = 0; i < 50; i++) {
        expect((await call('GET', '/read', t.viewer)).status).toBe(200);
        expect((await call('DELETE', '/thing', t.viewer)).status).toBe(403);
        expect((await call('GET', '/open')).status).toBe(200);
      }
      expect(limiter.size).toBe(0);
    });
  });
});
