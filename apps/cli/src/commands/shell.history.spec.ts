import { describe, expect, it } from 'vitest';
import { historyPath } from './shell.history';

describe('historyPath', () => {
  it('is ~/.warren/shell_history unless WARREN_SHELL_HISTORY says otherwise (empty: none)', () => {
    expect(historyPath({ HOME: '/home/op' })).toBe('/home/op/.warren/shell_history');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '' })).toBeNull();
  });
});
