import { describe, expect, it } from 'vitest';
import { useInboxHarness } from './inbox.fixtures';

/** What an older controller, which counted characters, could still send: each is refused on arrival. */
describe('InboxService refusing what execve(2) cannot take', () => {
  const h = useInboxHarness();
  const { command, deliver, results, started } = h;

  it('answers rejected, naming the byte limit, for `echo` + 60,000 × ｈ (180 KB), instead of spawn E2BIG', () => {
    const c = command({ command: `echo ${'ｈ'.repeat(60_000)}` });
    expect(deliver(h.inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      state: 'rejected',
      code: 'policy',
      reason:
        'this host cannot run it: command is 180005 bytes of UTF-8; at most 65536 bytes (Linux refuses one argument of 131072 bytes or more)',
    });
    expect(started()).toHaveLength(0);
    expect(h.journal.has(c.invocationId)).toBe(false);
  });

  it('refuses a relative cwd and an env entry over 131,071 bytes', () => {
    deliver(h.inbox, command({ cwd: 'docs' }));
    deliver(h.inbox, command({ env: { BIG: 'é'.repeat(65_534) } }));
    expect(results().map((r) => [r.state, r.reason])).toEqual([
      ['rejected', 'this host cannot run it: cwd must be an absolute path (starting with /), got "docs"'],
      [
        'rejected',
        "this host cannot run it: env: BIG=value is 131072 bytes of UTF-8; at most 131071 bytes (Linux's MAX_ARG_STRLEN less its NUL)",
      ],
    ]);
    expect(started()).toHaveLength(0);
  });
});
