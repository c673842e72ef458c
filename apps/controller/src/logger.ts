import pino, { type Logger } from 'pino';

/** Injection token of the root pino logger; services take `.child({ component })` of it. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** One JSON line per event on stdout. */
export function createRootLogger(level: string): Logger {
  return pino({
    level,
    base: { app: 'warren-controller', pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
