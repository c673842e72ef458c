import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, consoleStatic, loadConsoleFiles } from './console.static';

const dir = mkdtempSync(join(tmpdir(), 'console-static-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Warren</title>');
writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the middleware on one request; returns what it answered, or `next` when it passed it on to Nest. */
function serve(method: string, path: string) {
  const files = loadConsoleFiles(dir)!;
  const headers: Record<string, string> = {};
  let status = 0;
  let body: Buffer | undefined;
  let passed = false;
  const res = {
    setHeader: (k: string, v: string) => (headers[k] = v),
    status: (s: number) => ((status = s), res),
    end: (b?: Buffer) => (body = b),
  };
  consoleStatic(files)(
    { method, path } as Request,
    res as unknown as Response,
    (() => (passed = true)) as NextFunction,
  );
  return { passed, status, headers, body: body?.toString() };
}

describe('consoleStatic', () => {
  it('serves the page at / and its hashed assets with the CSP, cached for a year only when hashed', () => {
    const page = serve('GET', '/');
    expect(page).toMatchObject({ passed: false, status: 200, body: '<!doctype html><title>Warren</title>' });
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(page.headers['cache-control']).toBe('no-cache');
    const js = serve('GET', '/assets/index-abc.js');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toMatch(/immutable/);
  });

  it('answers a deep link with the page, but never a path of the API, /metrics or /healthz', () => {
    expect(serve('GET', '/tasks/t_abc').body).toMatch(/<title>Warren/);
    for (const path of ['/v1/tasks', '/v1', '/v1/nope', '/metrics', '/healthz'])
      expect(serve('GET', path).passed, path).toBe(true);
  });

  it('passes on other methods and missing files, so they stay 404s', () => {
    expect(serve('POST', '/').passed).toBe(true);
    expect(serve('GET', '/assets/index-old.js').passed).toBe(true);
    expect(serve('GET', '/favicon.ico').passed).toBe(true);
  });

  it('keeps script and framing to this origin only', () => {
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).toContain("connect-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
  });

  it('is off when the console is not built', () => {
    expect(loadConsoleFiles(join(dir, 'nowhere'))).toBeNull();
  });
});
