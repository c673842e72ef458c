import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { NestPinoLogger } from './nest.logger';

describe('NestPinoLogger', () => {
  it("writes Nest's lines as pino JSON, object first, with Nest's context and an error's stack", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = new NestPinoLogger(pino({ level: 'trace' }, sink));
    logger.log('AgentModule dependencies initialized', 'InstanceLoader');
    logger.error('hook failed', 'Error: boom\n    at x', 'AgentLifecycle');
    logger.verbose('detail');
    expect(lines).toMatchObject([
      { level: 30, context: 'InstanceLoader', msg: 'AgentModule dependencies initialized' },
      { level: 50, context: 'AgentLifecycle', stack: 'Error: boom\n    at x', msg: 'hook failed' },
      { level: 10, msg: 'detail' },
    ]);
  });
});
