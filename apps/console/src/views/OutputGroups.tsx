import { useRef } from 'preact/hooks';
import { State } from '../components/State';
import type { OutputGroup, TaskModel } from '../task-model';

/** groups shown at most; the rest are counted */
const MAX_GROUPS = 50;

/**
 * The finished hosts folded by identical outcome and output (`web[01-40]  succeeded  exit 0`, then
 * the output once), as `warren run --collapse` prints them. Regrouped only when `recompute` says and
 * the task changed since.
 */
export function OutputGroups({ model, recompute }: { model: TaskModel; recompute: boolean }) {
  const groups = useRef<OutputGroup[]>([]);
  const at = useRef(-1);
  if (recompute && at.current !== model.version) {
    groups.current = model.groups();
    at.current = model.version;
  }
  const shown = groups.current.slice(0, MAX_GROUPS);
  if (shown.length === 0) return null;
  return (
    <section class="groups" aria-label="Identical outputs">
      <h2>Outputs, identical ones folded</h2>
      {shown.map((g) => (
        <article class="group" key={g.folded}>
          <h3>
            <span class="hosts">{g.folded}</span> <State state={g.state} />{' '}
            <span class="muted">
              {g.exitCode !== null ? `exit ${g.exitCode}` : (g.signal ?? '')} · {g.hosts.length} host
              {g.hosts.length === 1 ? '' : 's'}
            </span>
          </h3>
          {g.stdout && <pre class="stdout">{g.stdout}</pre>}
          {g.stderr && <pre class="stderr">{g.stderr}</pre>}
        </article>
      ))}
      {groups.current.length > MAX_GROUPS && (
        <p class="muted">{groups.current.length - MAX_GROUPS} more groups: select their hosts in the grid.</p>
      )}
    </section>
  );
}
