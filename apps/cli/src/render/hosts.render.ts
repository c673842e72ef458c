import { formatColumns } from '@warren/api';
import type { HostView } from '@warren/api';
import { painter } from './colors';
import { forTerminal } from './terminal.safe';
import { formatAgo } from './units.format';

/** The agents as a table: HOST STATUS TRUST LABELS VERSION RUNNING LAST SEEN (running as `running/concurrency`). */
export function renderHosts(given: HostView[], opts: { color: boolean; now: number }): string {
  const hosts = forTerminal(given); // labels and version are the agents' own words
  const paint = painter(opts.color);
  const rows = [
    ['HOST', 'STATUS', 'TRUST', 'LABELS', 'VERSION', 'RUNNING', 'LAST SEEN'],
    ...hosts.map((h) => [
      h.host,
      h.status,
      h.trust,
      Object.entries(h.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || '-',
      h.version || '-',
      `${h.running}/${h.concurrency}`,
      formatAgo(h.lastSeen, opts.now),
    ]),
  ];
  const lines = formatColumns(rows, (cell, row, col) =>
    row > 0 && col === 1
      ? paint(cell, hosts[row - 1].status)
      : row > 0 && col === 2 && cell !== 'accepted'
        ? paint(cell, 'failed')
        : cell,
  );
  return lines.join('\n') + '\n';
}
