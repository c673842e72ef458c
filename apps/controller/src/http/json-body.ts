import { json, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { BadRequestBodyError, BodyTooLargeError, UnsupportedMediaTypeError } from '../errors/errors';

/**
 * bytes; the largest request body read. The largest valid one: 10,000 hosts of 255 characters
 * (2.6 MB), a 64 KiB command and 128 KiB of env, each JSON-escaped at most 6× (`\u0001`).
 */
export const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** Nesting depth of arrays and objects a body may have; a valid request needs 2 (`{"env":{…}}`). */
export const MAX_BODY_DEPTH = 32;

/**
 * Throws {@link BadRequestBodyError} when the JSON text `buf` nests arrays and objects deeper than
 * `max`. One pass over the bytes before `JSON.parse`, so neither the parser nor the validators
 * (which recurse, and overflow the stack at ~10,000 levels) ever see a deep body.
 */
export function checkJsonDepth(buf: Buffer, max = MAX_BODY_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next byte is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) throw new BadRequestBodyError(`the body nests arrays and objects deeper than ${max} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/** body-parser's refusals (their `type`, from its README) as the API's errors; null for the parser's own bugs. */
function domainError(err: Error & { type?: string; status?: number }): Error | null {
  if (err instanceof BadRequestBodyError) return err; // thrown by the depth check above
  switch (err.type) {
    case 'entity.parse.failed':
      return new BadRequestBodyError(`the body is not a JSON object or array: ${err.message}`);
    case 'entity.too.large':
      return new BodyTooLargeError(`the body is larger than ${BODY_LIMIT_BYTES} bytes`);
    case 'encoding.unsupported':
      return new UnsupportedMediaTypeError(`${err.message}; send identity, gzip, deflate or br`);
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(`${err.message}; send utf-8`);
    case 'request.aborted':
      return new BadRequestBodyError('the client closed the connection before the body was sent');
    case 'request.size.invalid':
      return new BadRequestBodyError('the body is shorter or longer than its Content-Length');
    default:
      return err.status !== undefined && err.status >= 400 && err.status < 500
        ? new BadRequestBodyError(`the body cannot be read: ${err.message}`)
        : null;
  }
}

/**
 * Routes whose body is not JSON and is read by their handler as a stream (`POST /v1/files`: a file
 * of up to `--max-file-size`, never buffered): the parser leaves their requests alone.
 */
export const RAW_BODY_ROUTES: readonly { method: string; path: string }[] = [{ method: 'POST', path: '/v1/files' }];

/**
 * The controller's body parser (Express middleware): a body is JSON (`application/json` or
 * `…+json`, else 415), at most {@link BODY_LIMIT_BYTES} (else 413) and {@link MAX_BODY_DEPTH}
 * levels deep (else 400); every refusal is a domain error the filter's table maps, naming the
 * problem. A request without a body passes with `req.body` unset, and so does one to a
 * {@link RAW_BODY_ROUTES} route, unread.
 */
export function jsonBody(): RequestHandler {
  const parse = json({
    limit: BODY_LIMIT_BYTES,
    type: ['application/json', '+json'],
    verify: (_q, _s, buf) => checkJsonDepth(buf),
  });
  return (req: Request, res: Response, next: NextFunction) => {
    if (RAW_BODY_ROUTES.some((r) => r.method === req.method && r.path === req.path)) return next();
    // `req.is` is null without a body (no Content-Length, no Transfer-Encoding); an empty chunked
    // body without a Content-Type (Node's client sends one for PROPFIND and the like) is let through.
    const typed = req.headers['content-type'] !== undefined || Number(req.headers['content-length']) > 0;
    if (typed && req.is(['application/json', '+json']) === false) {
      const got = req.headers['content-type'] ?? 'none';
      return next(
        new UnsupportedMediaTypeError(
          `the body must be JSON: Content-Type application/json, got ${JSON.stringify(got).slice(0, 100)}`,
        ),
      );
    }
    parse(req, res, (err?: unknown) => {
      if (err === undefined || err === null) return next();
      next(domainError(err as Error) ?? err);
    });
  };
}
