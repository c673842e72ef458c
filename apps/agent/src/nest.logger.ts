import type { LoggerService } from '@nestjs/common';
import type { Logger } from 'pino';

/**
 * Nest's own log lines (module init, shutdown hooks, uncaught errors in lifecycle hooks) written
 * through the agent's root pino logger, object first. The agent has no HTTP, so it needs none of
 * nestjs-pino's request logging; this is all it used it for.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.pino.info(contextOf(params), String(message));
  }

  error(message: unknown, ...params: unknown[]): void {
    // Nest passes (message, stack, context) or (message, context).
    const stack = params.length > 1 && typeof params[0] === 'string' ? params[0] : undefined;
    this.pino.error({ ...contextOf(params), stack }, String(message));
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.pino.warn(contextOf(params), String(message));
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.pino.debug(contextOf(params), String(message));
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.pino.trace(contextOf(params), String(message));
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.pino.fatal(contextOf(params), String(message));
  }
}

/** Nest's context (the class name) is the last string argument. */
function contextOf(params: unknown[]): { context?: string } {
  const last = params[params.length - 1];
  return typeof last === 'string' ? { context: last } : {};
}
