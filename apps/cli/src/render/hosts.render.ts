import { formatColumns } from '@warren/api';
import type { HostKeyInfo, HostView } from '@warren/api';
import { painter } from './colors';
import { forTerminal } from './terminal.safe';
import { formatAgo } from './units.format';

/** `k=v,k2=v2`, or `-` for none. */
const labelText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || '-';

/**
 * The agents as a table: HOST STATUS TRUST LABELS VERSION RUNNING LAST SEEN (running as
 * `running/concurrency`). LABELS are the accepted ones, followed by `(pending: …)` when the host
 * announces others: those are not used for targeting until accepted.
 */
export function renderHosts(given: HostView[], opts: { color: boolean; now: number }): string {
  const hosts = forTerminal(given); // labels and version are the agents' own words
  const paint = painter(opts.color);
  const rows = [
    ['HOST', 'STATUS', 'TRUST', 'LABELS', 'VERSION', 'RUNNING', 'LAST SEEN'],
    ...hosts.map((h) => [
      h.host,
      h.status,
      h.trust,
      labelText(h.labels) + (h.pendingLabels ? ` (pending: ${labelText(h.pendingLabels)})` : ''),
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

/**
 * The keys as a table: HOST KEY STATUS LABELS FIRST SEEN LAST SEEN. LABELS are those the key last
 * announced (`accepted: …` added for an accepted key whose accepted labels differ).
 */
export function renderHostKeys(given: HostKeyInfo[], opts: { color: boolean; now: number }): string {
  const keys = forTerminal(given); // host names and labels are what heartbeats said
  const paint = painter(opts.color);
  const rows = [
    ['HOST', 'KEY', 'STATUS', 'LABELS', 'FIRST SEEN', 'LAST SEEN'],
    ...keys.map((k) => {
      const accepted = k.acceptedLabels ? labelText(k.acceptedLabels) : null;
      const announced = labelText(k.labels);
      return [
        k.host,
        k.keyId,
        k.status,
        accepted === null || accepted === announced ? announced : `${announced} (accepted: ${accepted})`,
        k.firstSeen === null ? '-' : formatAgo(k.firstSeen, opts.now), // pre-accepted: not heard yet
        k.lastSeen === null ? '-' : formatAgo(k.lastSeen, opts.now),
      ];
    }),
  ];
  const lines = formatColumns(rows, (cell, row, col) =>
    row > 0 && col === 2 && cell !== 'accepted' ? paint(cell, 'failed') : cell,
  );
  return lines.join('\n') + '\n';
}
