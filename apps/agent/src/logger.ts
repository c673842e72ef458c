import pino, { type Logger } from 'pino';

/** Injection token of the root pino logger; services log through `.child({ component })` of it. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** One JSON line per event on stdout; every line names the agent's host. */
export function createRootLogger(level: string, host: string): Logger {
  return pino({
    level,
    base: { app: 'warren-agent', host, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
