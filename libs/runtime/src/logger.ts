import pino, { type Logger } from 'pino';

/** Injection token of a daemon's root pino logger; services log through `.child({ component })` of it. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/**
 * One JSON line per event on stdout, the object first (`logger.info({ taskId, host }, 'msg')`).
 * `base` is merged into every line (e.g. `{ host }` for an agent).
 */
export function createRootLogger(app: string, level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { app, pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
