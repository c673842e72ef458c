import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ControllerConfig } from '../config/controller.config';
import { TooManyEventStreamsError } from '../errors/errors';
import { EventStreamSlots } from './event-stream.slots';

function slots(max: number) {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  return { s: new EventStreamSlots({ maxEventStreams: max } as ControllerConfig, logger), lines };
}

describe('EventStreamSlots', () => {
  it('refuses the stream past the cap with a 5 s Retry-After, and serves one again once a slot is given back', () => {
    const { s } = slots(2);
    const a = s.take();
    s.take();
    expect(s.open).toBe(2);
    expect(() => s.take()).toThrow(TooManyEventStreamsError);
    try {
      s.take();
    } catch (err) {
      expect((err as TooManyEventStreamsError).retryAfterSec).toBe(5);
      expect((err as Error).message).toMatch(/already serves 2 event streams \(--max-event-streams\)/);
    }
    expect(s.refused).toBe(2);
    a();
    expect(s.open).toBe(1);
    s.take();
    expect(s.open).toBe(2);
  });

  it('counts a slot given back twice (response closed, then the session ending) once', () => {
    const { s } = slots(2);
    const a = s.take();
    s.take();
    a();
    a();
    expect(s.open).toBe(1);
    s.take();
    expect(() => s.take()).toThrow(TooManyEventStreamsError);
  });

  it('logs one warning each time the cap is met, not one per refusal', () => {
    const { s, lines } = slots(10);
    const held = Array.from({ length: 10 }, () => s.take());
    for (let i = 0; i < 50; i++) expect(() => s.take()).toThrow(TooManyEventStreamsError);
    expect(lines).toHaveLength(1);
    held.pop()!(); // 9 open: still at 90%, a new refusal is the same episode
    s.take();
    expect(() => s.take()).toThrow(TooManyEventStreamsError);
    expect(lines).toHaveLength(1);
    held.splice(0, 2).forEach((give) => give()); // below 90%: the next time the cap is met is logged
    s.take();
    s.take();
    expect(() => s.take()).toThrow(TooManyEventStreamsError);
    expect(lines).toHaveLength(2);
  });
});
