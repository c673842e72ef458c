import pino, { type Logger } from 'pino';

/** One JSON line a {@link capturedLogger} wrote: pino's `level` (30 info, 40 warn, 50 error), `msg` and the object's fields. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger (level debug) whose lines are parsed into `lines` as they are written (synchronously). */
export function capturedLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}
