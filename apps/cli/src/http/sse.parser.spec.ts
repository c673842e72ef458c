import { describe, expect, it } from 'vitest';
import { type SseEvent, SseParser } from './sse.parser';

function parse(...pieces: string[]): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const p of pieces) parser.feed(p);
  return { events, parser };
}

describe('SseParser (eventsource-parser behind the adapter)', () => {
  it('parses named events with ids and JSON data, ignoring comments and retry', () => {
    const { events, parser } = parse(
      'retry: 1000\n\n: ping\n\nid: ab.1\nevent: output\ndata: {"a":1}\n\nid: ab.2\nevent: completed\ndata: {}\n\n',
    );
    expect(events).toEqual([
      { id: 'ab.1', event: 'output', data: '{"a":1}' },
      { id: 'ab.2', event: 'completed', data: '{}' },
    ]);
    expect(parser.lastEventId).toBe('ab.2');
  });

  it('gives the same events however the stream is split, with LF, CR or CRLF line ends', () => {
    const text = 'id: 1\r\nevent: output\r\ndata: x\r\n\r\nid: 2\revent: result\rdata: y\r\rdata: z\n\n';
    const whole = parse(text).events;
    expect(whole).toEqual([
      { id: '1', event: 'output', data: 'x' },
      { id: '2', event: 'result', data: 'y' },
      { id: '2', event: 'message', data: 'z' },
    ]);
    for (let i = 1; i < text.length; i++) expect(parse(text.slice(0, i), text.slice(i)).events).toEqual(whole);
    expect(parse(...text.split('')).events).toEqual(whole);
  });

  it('joins multi-line data, keeps an event unfinished until its blank line, and skips events without data', () => {
    const { events } = parse('event: a\ndata: one\ndata:two\n\nevent: nothing\n\ndata: pending');
    expect(events).toEqual([{ id: undefined, event: 'a', data: 'one\ntwo' }]);
  });

  it('keeps the last id for events that carry none, and ignores an id holding NUL', () => {
    const { events, parser } = parse('id: 7.1\ndata: a\n\ndata: b\n\nid: 7\u00002\ndata: c\n\n');
    expect(events.map((e) => e.id)).toEqual(['7.1', '7.1', '7.1']);
    expect(parser.lastEventId).toBe('7.1');
  });
});
