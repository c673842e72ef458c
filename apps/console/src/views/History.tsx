import type { TaskHead, TaskList } from '@warren/api/tasks.contract';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import { State } from '../components/State';
import { when } from '../format';
import { follow, navigate, useLocation } from '../router';

/** tasks per page */
const PAGE = 50;

const TASK_STATES = ['running', 'completed', 'cancelled'];
const FILTERS = ['state', 'q', 'createdBy', 'since', 'until'] as const;

/** `datetime-local` text (local time) as an ISO time, or undefined when empty. */
function isoOf(local: string | null): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/**
 * Past and running tasks, newest first, filtered by state, command text, creator and time, paged
 * by the server (`before` the last task shown). The filters live in the URL, so a filtered list is a link.
 */
export function History() {
  const { params } = useLocation();
  const [tasks, setTasks] = useState<TaskHead[] | null>(null);
  const [error, setError] = useState('');
  const key = params.toString();

  useEffect(() => {
    setTasks(null);
    const q = query({
      limit: PAGE,
      state: params.get('state'),
      q: params.get('q'),
      createdBy: params.get('createdBy'),
      since: isoOf(params.get('since')),
      until: isoOf(params.get('until')),
      before: params.get('before'),
    });
    api<TaskList>('GET', `/v1/tasks${q}`)
      .then((r) => (setTasks(r.tasks), setError('')))
      .catch((err) => setError(errorText(err)));
  }, [key]);

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const k of FILTERS) {
      const v = String(form.get(k) ?? '').trim();
      if (v) next.set(k, v);
    }
    navigate(`/tasks${next.size ? `?${next}` : ''}`);
  };
  const older = () => {
    const next = new URLSearchParams(params);
    next.set('before', tasks![tasks!.length - 1].id);
    navigate(`/tasks?${next}`);
  };

  return (
    <main class="history">
      <h1>Tasks</h1>
      <form class="filters" role="search" aria-label="Filter tasks" onSubmit={apply} key={key}>
        <label>
          State
          <select name="state" value={params.get('state') ?? ''}>
            <option value="">any</option>
            {TASK_STATES.map((s) => (
              <option value={s} key={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Command contains
          <input name="q" value={params.get('q') ?? ''} />
        </label>
        <label>
          Created by
          <input name="createdBy" value={params.get('createdBy') ?? ''} placeholder="token name" />
        </label>
        <label>
          Since
          <input name="since" type="datetime-local" value={params.get('since') ?? ''} />
        </label>
        <label>
          Until
          <input name="until" type="datetime-local" value={params.get('until') ?? ''} />
        </label>
        <button type="submit">Filter</button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {tasks === null && !error && <p class="loading">Loading…</p>}
      {tasks && (
        <table aria-label="Tasks">
          <thead>
            <tr>
              <th>Task</th>
              <th>State</th>
              <th>Command</th>
              <th>By</th>
              <th>Created</th>
              <th>Hosts</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id}>
                <td>
                  <a href={`/tasks/${t.id}`} onClick={follow}>
                    {t.id}
                  </a>
                </td>
                <td>
                  <State state={t.state} />
                </td>
                <td>
                  <code class="command">{t.command}</code>
                </td>
                <td>{t.createdBy ?? ''}</td>
                <td>{when(t.createdAt)}</td>
                <td>
                  {Object.entries(t.summary.byState)
                    .map(([s, n]) => `${n} ${s.replace('_', ' ')}`)
                    .join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tasks && tasks.length === 0 && <p>No task matches.</p>}
      <div class="actions">
        {params.get('before') && (
          <a href={`/tasks${query(Object.fromEntries(FILTERS.map((k) => [k, params.get(k)])))}`} onClick={follow}>
            Newest
          </a>
        )}
        {tasks && tasks.length === PAGE && (
          <button type="button" onClick={older}>
            Older tasks
          </button>
        )}
      </div>
    </main>
  );
}
