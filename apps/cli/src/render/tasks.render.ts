import { formatColumns } from '@warren/api';
import { INVOCATION_STATES } from '@warren/protocol';
import type { TaskHead, TaskSummary } from '@warren/api';
import { forTerminal } from './terminal.safe';
import { formatAgo } from './units.format';

/** characters of a command shown in the list */
export const COMMAND_WIDTH = 50;

/** Recent tasks as a table: ID STATE HOSTS SUMMARY CREATED COMMAND (the command on one line, cut to {@link COMMAND_WIDTH}). */
export function renderTasks(given: TaskHead[], now: number): string {
  const tasks = forTerminal(given);
  const rows = [
    ['ID', 'STATE', 'HOSTS', 'SUMMARY', 'CREATED', 'COMMAND'],
    ...tasks.map((t) => [
      t.id,
      t.state,
      String(t.summary?.total ?? 0),
      summaryCounts(t.summary),
      formatAgo(t.createdAt, now),
      oneLine(t.command),
    ]),
  ];
  return formatColumns(rows).join('\n') + '\n';
}

/** `2 succeeded, 1 failed`, in life-cycle order; `-` when nothing has been counted. */
function summaryCounts(summary: TaskSummary | undefined): string {
  const byState = summary?.byState ?? {};
  const parts = INVOCATION_STATES.filter((s) => byState[s]).map((s) => `${byState[s]} ${s}`);
  return parts.join(', ') || '-';
}

/** The command with its whitespace runs folded to one space, cut with `…` past {@link COMMAND_WIDTH}. */
function oneLine(command: string): string {
  const flat = command.replace(/\s+/g, ' ').trim();
  return flat.length <= COMMAND_WIDTH ? flat : `${flat.slice(0, COMMAND_WIDTH - 1)}…`;
}
