import { describe, expect, it } from 'vitest';
import { isAfter, parseLastEventId, renderEventId } from './event-id';

describe('event ids', () => {
  it('renders a stream position as <offset>-<k> and reads it back', () => {
    expect(renderEventId({ offset: 1042, k: 0 })).toBe('1042-0');
    expect(parseLastEventId('1042-3')).toEqual({ kind: 'position', at: { offset: 1042, k: 3 } });
    expect(parseLastEventId('  0-0 ')).toEqual({ kind: 'position', at: { offset: 0, k: 0 } });
  });

  it('takes no header, or a blank one, as "from the beginning"', () => {
    expect(parseLastEventId(undefined)).toEqual({ kind: 'none' });
    expect(parseLastEventId('  ')).toEqual({ kind: 'none' });
  });

  it('recognises an id of the per-controller logs before the stream (<8 hex>.<seq>) as legacy', () => {
    expect(parseLastEventId('1a2b3c4d.17')).toEqual({ kind: 'legacy' });
    expect(parseLastEventId('12345678.1')).toEqual({ kind: 'legacy' });
  });

  it.each(['abc', '12-', '-1-0', '1.5', '1-2-3', '1e3-0', '1234567890123456-0', '1-1234567', 'zzzzzzzz.1'])(
    'calls %j invalid',
    (id) => expect(parseLastEventId(id)).toEqual({ kind: 'invalid' }),
  );

  it('orders positions by offset, then by index', () => {
    expect(isAfter({ offset: 5, k: 0 }, { offset: 4, k: 9 })).toBe(true);
    expect(isAfter({ offset: 5, k: 2 }, { offset: 5, k: 1 })).toBe(true);
    expect(isAfter({ offset: 5, k: 1 }, { offset: 5, k: 1 })).toBe(false);
    expect(isAfter({ offset: 4, k: 9 }, { offset: 5, k: 0 })).toBe(false);
  });
});
