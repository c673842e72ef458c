import type { AuditList, AuditRecord } from '@warren/api/audit.contract';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import { when } from '../format';
import { follow } from '../router';

/** records per page; "Older records" asks the server for the next page (`before`: the last id shown) */
const PAGE = 100;

interface Filters {
  actor: string;
  action: string;
  taskId: string;
  decision: string;
  since: string;
}

/** The audit log (admin): who did what, where, when and how it ended; filtered, newest first. */
export function Audit() {
  const [filters, setFilters] = useState<Filters>({ actor: '', action: '', taskId: '', decision: '', since: '' });
  /** the last id of the page before this one (empty: the newest page) */
  const [before, setBefore] = useState('');
  /** the `before` of each page shown before this one, to go back */
  const [newer, setNewer] = useState<string[]>([]);
  const [records, setRecords] = useState<AuditRecord[] | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    const since = filters.since ? new Date(filters.since).toISOString() : '';
    const q = query({ ...filters, since, limit: PAGE, before });
    api<AuditList>('GET', `/v1/audit${q}`)
      .then((r) => (setRecords(r.records), setError('')))
      .catch((err) => setError(errorText(err)));
  }, [filters, before]);

  const older = () => {
    if (!records?.length) return;
    setNewer([...newer, before]);
    setBefore(String(records[records.length - 1].id));
  };
  const newerPage = () => {
    setBefore(newer[newer.length - 1] ?? '');
    setNewer(newer.slice(0, -1));
  };

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const get = (k: string) => String(form.get(k) ?? '').trim();
    setBefore('');
    setNewer([]);
    setFilters({
      actor: get('actor'),
      action: get('action'),
      taskId: get('taskId'),
      decision: get('decision'),
      since: get('since'),
    });
  };

  return (
    <main class="audit">
      <h1>Audit log</h1>
      <form class="filters" role="search" aria-label="Filter the audit log" onSubmit={apply}>
        <label>
          Actor
          <input name="actor" placeholder="token name" />
        </label>
        <label>
          Action
          <input name="action" placeholder="task.create" />
        </label>
        <label>
          Task
          <input name="taskId" placeholder="t_…" />
        </label>
        <label>
          Decision
          <select name="decision">
            <option value="">any</option>
            <option value="allowed">allowed</option>
            <option value="denied">denied</option>
          </select>
        </label>
        <label>
          Since
          <input name="since" type="datetime-local" />
        </label>
        <button type="submit">Filter</button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {records && (
        <table aria-label="Audit records">
          <thead>
            <tr>
              <th>When</th>
              <th>Actor</th>
              <th>Source</th>
              <th>Action</th>
              <th>Decision</th>
              <th>Task</th>
              <th>Hosts</th>
              <th>Command / reason</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={r.id}>
                <td>{when(r.at)}</td>
                <td>{r.actor}</td>
                <td>{r.source ?? ''}</td>
                <td>{r.action}</td>
                <td>
                  <span class={`state state-${r.decision}`}>{r.decision}</span>
                  {r.count > 1 && <span class="muted"> ×{r.count}</span>}
                </td>
                <td>
                  {r.taskId && (
                    <a href={`/tasks/${r.taskId}`} onClick={follow}>
                      {r.taskId}
                    </a>
                  )}
                </td>
                <td>{r.hosts.join(' ')}</td>
                <td>
                  {r.command && <code class="command">{r.command}</code>} {r.reason ?? ''}
                  {r.outcome && (
                    <span class="muted">
                      {' '}
                      {Object.entries(r.outcome)
                        .map(([h, s]) => `${h}: ${s}`)
                        .join(', ')}
                    </span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Audit pages">
        {newer.length > 0 && (
          <button type="button" onClick={newerPage}>
            Newer records
          </button>
        )}
        {records && records.length === PAGE && (
          <button type="button" onClick={older}>
            Older records
          </button>
        )}
      </nav>
    </main>
  );
}
