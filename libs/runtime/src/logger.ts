import pino, { type Logger } from 'pino';

/*
 * A separate entry point, `@warren/runtime/logger`, for the two daemons only: the CLI imports this
 * library's index, and loading pino there would cost every `warren` call its start-up time.
 */
export { ROOT_LOGGER } from './logger.token';

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
