import type { TaskState } from '@warren/protocol';

/** What `GET /v1/tasks` may narrow its list by (`?state=&q=&createdBy=&since=&until=&before=`); all ANDed. */
export interface TaskListFilter {
  state?: TaskState;
  /** text the command contains, ignoring ASCII case */
  q?: string;
  /** the token name (or local user) that created it, exactly */
  createdBy?: string;
  /** ms since the epoch: created at or after */
  since?: number;
  /** ms since the epoch: created before */
  until?: number;
  /** a task id: only tasks after it in the newest-first order (the next page); an unknown id lists none */
  before?: string;
}

/**
 * The filter as SQL conditions on `tasks`, in `dialect`, with placeholders from `param` (which takes
 * a value and returns its placeholder, once per use); both stores use it, so SQLite and PostgreSQL
 * list alike. Ids compare by their bytes in both (SQLite's default, PostgreSQL's `"C"` collation).
 */
export function taskFilterSql(
  f: TaskListFilter,
  dialect: 'sqlite' | 'postgres',
  param: (value: string | number) => string,
): string[] {
  const where: string[] = [];
  const C = dialect === 'postgres' ? ' COLLATE "C"' : '';
  if (f.state !== undefined) where.push(`state = ${param(f.state)}`);
  // lower() of both sides rather than LIKE: no wildcard in the text a person typed needs escaping.
  if (f.q !== undefined)
    where.push(`${dialect === 'postgres' ? 'strpos' : 'instr'}(lower(command), lower(${param(f.q)})) > 0`);
  if (f.createdBy !== undefined) where.push(`created_by = ${param(f.createdBy)}`);
  if (f.since !== undefined) where.push(`created_at >= ${param(f.since)}`);
  if (f.until !== undefined) where.push(`created_at < ${param(f.until)}`);
  if (f.before !== undefined) {
    const at = () => `(SELECT b.created_at FROM tasks b WHERE b.id = ${param(f.before!)})`;
    where.push(`(created_at < ${at()} OR (created_at = ${at()} AND id${C} < ${param(f.before)}${C}))`);
  }
  return where;
}
