import type { CompletedEventData, OutputEventData, StartedEventData } from '@warren/api/events.contract';
import { foldHosts } from '@warren/api/hostlist.fold';
import type { HostResult, TaskAccepted, TaskCancelled, TaskView } from '@warren/api/tasks.contract';
import type { InvocationState } from '@warren/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { State } from '../components/State';
import { VirtualGrid } from '../components/VirtualGrid';
import { duration, when } from '../format';
import { follow, navigate } from '../router';
import { may } from '../session';
import { type FollowState, followEvents } from '../sse';
import { isTerminal, TaskModel } from '../task-model';
import { HostOutput } from './HostOutput';
import { OutputGroups } from './OutputGroups';

/** States whose hosts the summary names: every final one but `succeeded` (pending and running are counted only). */
const NAMED = (state: InvocationState) => state !== 'succeeded' && isTerminal(state);

/**
 * The summary line and, for each final state but `succeeded`, the hosts in it, folded. Folding a
 * thousand names costs milliseconds, so while results pour in it is redone at most twice a second.
 */
function Summary({ model, recompute }: { model: TaskModel; recompute: boolean }) {
  const cache = useRef<{ version: number; counts: string; named: [InvocationState, string[], string][] } | null>(null);
  if (!cache.current || (recompute && cache.current.version !== model.version)) {
    const byState = [...model.byState()];
    cache.current = {
      version: model.version,
      counts: byState.map(([s, hosts]) => `${hosts.length} ${s.replace('_', ' ')}`).join(', '),
      named: byState.filter(([s]) => NAMED(s)).map(([s, hosts]) => [s, hosts, foldHosts(hosts)]),
    };
  }
  const { counts, named } = cache.current;
  return (
    <section class="summary" aria-label="Summary" aria-live="polite">
      <p>
        <strong>{model.order.length} hosts</strong>: {counts}
      </p>
      <ul>
        {named.map(([s, hosts, folded]) => (
          <li key={s}>
            <State state={s} /> ({hosts.length}): <span class="hosts">{folded}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Whether a finished host did not succeed, so the re-run takes it. */
const unsuccessful = (r: HostResult | null) => r !== null && r.state !== 'succeeded';

/**
 * One task, live: its hosts in a virtualised grid (state, exit, duration), the selected host's
 * output as it arrives (SSE read with `fetch`, resumed after a drop), the summary by state, the
 * outputs folded by identical outcome, cancel and re-run of the hosts that did not succeed.
 */
export function Task({ id }: { id: string }) {
  const [model, setModel] = useState<TaskModel | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [followState, setFollowState] = useState<FollowState>('connecting');
  const [, setFrame] = useState(0);
  const [selected, setSelected] = useState(0);
  const groupsAt = useRef(0);

  useEffect(() => {
    const ac = new AbortController();
    let m: TaskModel | null = null;
    let scheduled = false;
    // Events may come by the thousand a second: the page draws at most once a frame.
    const paint = () => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        setFrame(m!.version);
      });
    };
    setModel(null);
    setError('');
    setNotice('');
    setSelected(0);
    api<TaskView>('GET', `/v1/tasks/${encodeURIComponent(id)}`)
      .then((task) => {
        m = new TaskModel(task);
        setModel(m);
        if (task.state !== 'running') return setFollowState('ended');
        void followEvents(
          id,
          {
            onEvent(e) {
              const data: unknown = JSON.parse(e.data);
              if (e.event === 'started') m!.applyStarted(data as StartedEventData);
              else if (e.event === 'output') m!.applyOutput(data as OutputEventData);
              else if (e.event === 'result') m!.applyResult(data as HostResult);
              else if (e.event === 'completed') m!.applyCompleted(data as CompletedEventData);
              paint();
            },
            onState: (s) => setFollowState(s),
          },
          ac.signal,
        );
      })
      .catch((err) => setError(errorText(err)));
    return () => ac.abort();
  }, [id]);

  if (error)
    return (
      <main>
        <p role="alert" class="error">
          {error}
        </p>
      </main>
    );
  if (!model) return <main class="loading">Loading task {id}…</main>;

  const t = model.task;
  const running = model.state === 'running';
  const failed = model.order.filter((h) => unsuccessful(model.rows.get(h)!.result));
  const host = model.order[selected];
  // Grouping compares whole outputs, folding names costs too: redone at most twice a second while results arrive.
  const regroup = !running || Date.now() - groupsAt.current > 500;
  if (regroup) groupsAt.current = Date.now();

  const cancel = async () => {
    try {
      const r = await api<TaskCancelled>('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`, {});
      setNotice(`Cancel sent: ${r.cancelled.length} not started, ${r.killing.length} being stopped.`);
    } catch (err) {
      setNotice(errorText(err));
    }
  };
  const rerun = async () => {
    try {
      const r = await api<TaskAccepted>('POST', `/v1/tasks/${encodeURIComponent(id)}/rerun`, {});
      navigate(`/tasks/${r.id}`);
    } catch (err) {
      setNotice(errorText(err));
    }
  };

  return (
    <main class="task">
      <h1>
        Task <code>{t.id}</code> <State state={model.state} />
      </h1>
      <dl class="facts">
        <dt>Command</dt>
        <dd>
          <code class="command">{t.command}</code>
        </dd>
        <dt>By</dt>
        <dd>{t.createdBy ?? ''}</dd>
        <dt>Started</dt>
        <dd>{when(t.createdAt)}</dd>
        {model.finishedAt && (
          <>
            <dt>Finished</dt>
            <dd>{when(model.finishedAt)}</dd>
          </>
        )}
        {t.rerunOf && (
          <>
            <dt>Re-run of</dt>
            <dd>
              <a href={`/tasks/${t.rerunOf}`} onClick={follow}>
                {t.rerunOf}
              </a>
            </dd>
          </>
        )}
        <dt>Live</dt>
        <dd class="follow">{running ? followState : 'done'}</dd>
      </dl>
      <div class="actions">
        {may('operator') && running && (
          <button type="button" onClick={cancel}>
            Cancel task
          </button>
        )}
        {may('operator') && !running && failed.length > 0 && (
          <button type="button" onClick={rerun}>
            Re-run {failed.length} failed host{failed.length === 1 ? '' : 's'}
          </button>
        )}
        {notice && <span role="status">{notice}</span>}
      </div>
      <Summary model={model} recompute={regroup} />
      <div class="split">
        <VirtualGrid
          label="Hosts of this task"
          columns={['Host', 'State', 'Exit', 'Duration']}
          count={model.order.length}
          selected={selected}
          onSelect={setSelected}
          row={(i) => {
            const r = model.rows.get(model.order[i])!;
            return [r.host, <State state={r.state} />, r.exitCode ?? r.signal ?? '', duration(r.durationMs)];
          }}
        />
        {host && <HostOutput taskId={t.id} row={model.rows.get(host)!} />}
      </div>
      <OutputGroups model={model} recompute={regroup} />
    </main>
  );
}
