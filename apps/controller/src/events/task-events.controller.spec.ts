import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { TokenService } from '../auth/token.service';
import type { ControllerConfig } from '../config/controller.config';
import type { TaskReader } from '../tasks/task-reader.service';
import { EventStreamSlots } from './event-stream.slots';
import type { TaskEvents } from './task-events.service';
import { TaskEventsController } from './task-events.controller';

/** A response whose client left while the handler awaited the task (express has closed it already). */
function goneResponse() {
  const res = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(res, { destroyed: true, closed: true, writeHead: () => res, write: () => true, end: () => res });
  return res;
}

describe('TaskEventsController', () => {
  it('gives the slot back, and starts no session, when the client left before its stream began', async () => {
    const slots = new EventStreamSlots({ maxEventStreams: 1 } as ControllerConfig, pino({ level: 'silent' }));
    let feeds = 0;
    const controller = new TaskEventsController(
      { get: async () => ({ id: 't1', createdAt: new Date(0).toISOString() }) } as unknown as TaskReader,
      { feed: () => (feeds++, { close: async () => undefined }) } as unknown as TaskEvents,
      { isActive: async () => true } as unknown as TokenService,
      slots,
    );
    const principal = { tokenId: 'tk' } as never;
    for (let i = 0; i < 3; i++) await controller.events('t1', undefined, principal, null, goneResponse() as never);
    expect(slots.open).toBe(0);
    expect(feeds).toBe(0);
  });
});
