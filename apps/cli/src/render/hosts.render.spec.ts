import { describe, expect, it } from 'vitest';
import { hostView, T0 } from './task.fixtures';
import { renderHostKeys, renderHosts } from './hosts.render';

describe('renderHosts / renderHostKeys', () => {
  it('shows the accepted labels, and the labels a host claims beyond them as pending', () => {
    const out = renderHosts(
      [
        hostView('web1', { labels: { role: 'web' }, pendingLabels: { role: 'db' } }),
        hostView('web2', { labels: { role: 'web' } }),
      ],
      { color: false, now: T0 },
    );
    expect(out).toMatch(/^web1\s+online\s+accepted\s+role=web \(pending: role=db\)\s+0\.1\.0/m);
    expect(out).toMatch(/^web2\s+online\s+accepted\s+role=web\s+0\.1\.0/m);
  });

  it('lists keys with their fingerprints, status and the labels they announce, escaping what a heartbeat said', () => {
    const at = new Date(T0).toISOString();
    const out = renderHostKeys(
      [
        {
          host: 'web1',
          keyId: 'SHA256:a',
          status: 'accepted',
          firstSeen: at,
          lastSeen: at,
          labels: { role: 'db' },
          acceptedLabels: { role: 'web' },
        },
        {
          host: 'web1',
          keyId: 'SHA256:b',
          status: 'pending',
          firstSeen: at,
          lastSeen: at,
          labels: { x: '\x1b[2J' },
          acceptedLabels: null,
        },
        {
          host: 'web2',
          keyId: 'SHA256:c',
          status: 'pre-accepted',
          firstSeen: null,
          lastSeen: null,
          labels: {},
          acceptedLabels: null,
        },
      ],
      { color: false, now: T0 },
    );
    expect(out.split('\n')[0]).toMatch(/^HOST\s+KEY\s+STATUS\s+LABELS\s+FIRST SEEN\s+LAST SEEN$/);
    expect(out).toMatch(/^web1\s+SHA256:a\s+accepted\s+role=db \(accepted: role=web\)/m);
    expect(out).toMatch(/^web1\s+SHA256:b\s+pending\s+x=\\x1b\[2J/m);
    expect(out).toMatch(/^web2\s+SHA256:c\s+pre-accepted\s+-\s+-\s+-\s*$/m); // awaiting its first heartbeat
  });
});
