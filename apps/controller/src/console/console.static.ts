import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { NextFunction, Request, Response } from 'express';

/**
 * The web console's Content-Security-Policy: everything from this controller only, no inline
 * script or style, no plugins, never framed. With host output rendered as text only, it is what
 * keeps a host's output from running script in the console and reading its token (docs/console.md).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** One built file of the console, read once at start. */
interface ConsoleFile {
  body: Buffer;
  type: string;
  /** Vite's hashed assets never change under their name: cached for a year; the rest revalidated */
  immutable: boolean;
}

/** Paths that are never the console's, so that a typo under them stays the API's 404 and never becomes the page. */
const NOT_CONSOLE = /^\/(v1|metrics|healthz)(\/|$)/;

/** Reads every file under `dir` (the build output, `dist/console`) into memory; null when it is not built. */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const files = new Map<string, ConsoleFile>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const url = '/' + relative(dir, path).split(sep).join('/');
        files.set(url, {
          body: readFileSync(path),
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          immutable: url.startsWith('/assets/'),
        });
      }
    }
  };
  walk(dir);
  return files;
}

/**
 * Express middleware serving the console without a token: its files by path, and `index.html` for
 * any other GET that is not the API's, `/metrics` or `/healthz` and names no file (a deep link such
 * as `/tasks/t_…` that the page's router shows). Everything else goes on to Nest.
 */
export function consoleStatic(files: Map<string, ConsoleFile>) {
  const index = files.get('/index.html')!;
  return (req: Request, res: Response, next: NextFunction): void => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(req.path)) return next();
    let file = files.get(req.path === '/' ? '/index.html' : req.path);
    // A missing asset or file is a 404 (from Nest), not the page: a stale page asking for an old bundle says so.
    if (!file && (req.path.startsWith('/assets/') || /\.[a-z0-9]+$/i.test(req.path))) return next();
    file ??= index;
    res.setHeader('content-type', file.type);
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('content-length', String(file.body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : file.body);
  };
}
