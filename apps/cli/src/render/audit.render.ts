import { foldHosts, formatColumns } from '@warren/api';
import type { AuditRecord } from '@warren/api';
import { forTerminal } from './terminal.safe';

/** characters of a command shown in the table */
export const AUDIT_COMMAND_WIDTH = 40;

/** `text` with every run of white space (newlines, tabs) made one space. */
const flat = (text: string) => text.replace(/\s+/g, ' ').trim();

const oneLine = (text: string, width: number) => {
  const line = flat(text);
  return line.length <= width ? line : `${line.slice(0, width - 1).trimEnd()}…`;
};

/** `2025-01-31 12:00:05` in UTC: sortable, and the same on every machine reading the log. */
const time = (iso: string) => iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');

/** `succeeded web[1-2]; rejected db1`: a created task's outcome, hosts folded per state. */
export function outcomeText(outcome: Record<string, string>): string {
  const byState = new Map<string, string[]>();
  for (const [host, state] of Object.entries(outcome)) byState.set(state, [...(byState.get(state) ?? []), host]);
  return [...byState].map(([state, hosts]) => `${state} ${foldHosts(hosts)}`).join('; ');
}

/** `name=ci role=operator`: a record's small scalar details, for records with no reason or outcome. */
function detailText(detail: Record<string, unknown> | null): string {
  if (!detail) return '';
  const parts = Object.entries(detail)
    .filter(([k, v]) => k !== 'tokenId' && v !== null && (typeof v !== 'object' || Array.isArray(v)))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return oneLine(parts.join(' '), 80);
}

/**
 * Audit records as a table, newest first: TIME ACTOR SOURCE ACTION DECISION HOSTS COMMAND (a record
 * standing for repeated refusals says how many: `denied ×999`), then the
 * reason of a denial, the per-host outcome of a created task, or the details (token name, role) as the last column.
 */
export function renderAudit(given: AuditRecord[]): string {
  const records = forTerminal(given); // commands, reasons and token names are anyone's words
  const rows = [
    ['TIME (UTC)', 'ACTOR', 'SOURCE', 'ACTION', 'DECISION', 'HOSTS', 'COMMAND', 'REASON / OUTCOME'],
    ...records.map((r) =>
      [
        time(r.at),
        r.actor,
        r.source ?? '-',
        r.action,
        r.count > 1 ? `${r.decision} ×${r.count}` : r.decision,
        r.hosts.length ? oneLine(foldHosts(r.hosts), 30) : '-',
        r.command === null ? '-' : oneLine(r.command, AUDIT_COMMAND_WIDTH),
        r.reason ?? (r.outcome ? outcomeText(r.outcome) : detailText(r.detail)),
        // Every cell on one line: a newline in a reason (an agent's words) or a token name would
        // draw a row of its own, a fake audit record.
      ].map(flat),
    ),
  ];
  return (
    formatColumns(rows)
      .map((l) => l.trimEnd())
      .join('\n') + '\n'
  );
}
