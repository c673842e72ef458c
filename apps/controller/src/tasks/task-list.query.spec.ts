import { describe, expect, it } from 'vitest';
import { parseTaskListParams } from './task-list.query';

describe('parseTaskListParams', () => {
  it('reads every filter: times as ISO or ms since the epoch', () => {
    expect(
      parseTaskListParams({
        state: 'running',
        q: 'df -h',
        createdBy: 'alice',
        since: '2026-01-31T12:00:00Z',
        until: '1769864400000',
        before: 't_abc',
      }),
    ).toEqual({
      state: 'running',
      q: 'df -h',
      createdBy: 'alice',
      since: Date.parse('2026-01-31T12:00:00Z'),
      until: 1769864400000,
      before: 't_abc',
    });
    expect(parseTaskListParams({})).toEqual({});
  });

  it('refuses each bad filter by name, all in one 400', () => {
    expect(() => parseTaskListParams({ state: 'done', since: 'yesterday', q: '' })).toThrow(
      /q must have 1 to 200 characters; state must be one of running, completed, cancelled; since must be an ISO time/,
    );
    expect(() => parseTaskListParams({ createdBy: 'x'.repeat(201) })).toThrow(/createdBy/);
  });
});
