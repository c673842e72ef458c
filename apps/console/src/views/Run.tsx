import type { DryRunAnswer, TaskAccepted } from '@warren/api/tasks.contract';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { navigate } from '../router';
import { CONFIRM_ABOVE, EMPTY, type Form, hasTarget, previewProblem, requestOf } from '../run-form';

/** The live preview of the target: how many hosts, which, and which were left out and why. */
function Preview({ preview, error }: { preview: DryRunAnswer | null; error: string }) {
  if (error)
    return (
      <p class="error" role="status">
        {error}
      </p>
    );
  if (!preview) return <p class="muted">Type a target to see the hosts it matches.</p>;
  return (
    <div class="preview" role="status" aria-live="polite">
      <p>
        <strong>
          matches {preview.count} host{preview.count === 1 ? '' : 's'}
        </strong>
        {preview.folded && (
          <>
            : <span class="hosts">{preview.folded}</span>
          </>
        )}
      </p>
      {preview.excluded.length > 0 && (
        <ul aria-label="Left out">
          {preview.excluded.map((e) => (
            <li key={e.host}>
              left out {e.host}: {e.reason}
            </li>
          ))}
        </ul>
      )}
      {preview.unmatched.length > 0 && <p>matched no usable host: {preview.unmatched.join(', ')}</p>}
    </div>
  );
}

/** Run a command: the target previewed as it is typed (a dry run), the options, a confirmation above 50 hosts. */
export function Run() {
  const [f, setF] = useState<Form>(EMPTY);
  const [preview, setPreview] = useState<DryRunAnswer | null>(null);
  const [previewError, setPreviewError] = useState('');
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Form) => (e: Event) => {
    setF({ ...f, [k]: (e.target as HTMLInputElement).value });
    setConfirming(false);
  };

  useEffect(() => {
    if (!hasTarget(f)) return setPreview(null);
    const problem = previewProblem(f);
    if (problem) {
      setPreview(null);
      setPreviewError(problem);
      return;
    }
    const ac = { cancelled: false };
    const timer = setTimeout(async () => {
      try {
        const req = requestOf({ ...f, command: f.command || 'true' });
        const answer = await api<DryRunAnswer>('POST', '/v1/tasks', { ...req, dryRun: true });
        if (ac.cancelled) return;
        setPreview(answer);
        setPreviewError('');
      } catch (err) {
        if (ac.cancelled) return;
        setPreview(null);
        setPreviewError(errorText(err));
      }
    }, 300);
    return () => ((ac.cancelled = true), clearTimeout(timer));
  }, [f.target, f.hosts, f.labels, f.concurrency, f.maxErrors]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const req = requestOf(f);
      if (!confirming && (preview?.count ?? 0) > CONFIRM_ABOVE) return setConfirming(true);
      setBusy(true);
      const created = await api<TaskAccepted>('POST', '/v1/tasks', req);
      navigate(`/tasks/${created.id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (k: keyof Form, label: string, placeholder = '') => (
    <label>
      {label}
      <input value={f[k]} placeholder={placeholder} onInput={set(k)} />
    </label>
  );
  return (
    <main class="run">
      <h1>Run a command</h1>
      <form onSubmit={submit} aria-label="Run">
        <label>
          Command
          <textarea required rows={3} value={f.command} onInput={set('command')} placeholder="uptime" />
        </label>
        <fieldset>
          <legend>Target</legend>
          {(['hosts', 'labels', 'all'] as const).map((t) => (
            <label class="inline" key={t}>
              <input
                type="radio"
                name="target"
                value={t}
                checked={f.target === t}
                onChange={() => setF({ ...f, target: t })}
              />
              {t === 'hosts' ? 'Hosts' : t === 'labels' ? 'Labels' : 'All online hosts'}
            </label>
          ))}
          {f.target === 'hosts' && field('hosts', 'Hosts (names, web[01-20], globs)', 'web[01-20] db*')}
          {f.target !== 'hosts' && field('labels', 'Labels (k=v, all must hold)', 'zone=eu role=web')}
          <Preview preview={preview} error={previewError} />
        </fieldset>
        <fieldset class="options">
          <legend>Options</legend>
          {field('timeout', 'Timeout', '60s')}
          {field('deliveryTimeout', 'Delivery timeout', '60s')}
          {field('concurrency', 'Concurrency', 'all at once; 5 or 25%')}
          {field('maxErrors', 'Max errors', 'with concurrency; 1 or 10%')}
          {field('cwd', 'Working directory', 'the agent’s')}
          <label>
            Environment (NAME=value, one a line)
            <textarea rows={2} value={f.env} onInput={set('env')} />
          </label>
        </fieldset>
        {confirming && (
          <p role="alert" class="confirm">
            This runs on {preview?.count} hosts. Press “Run on {preview?.count} hosts” to confirm.
          </p>
        )}
        <button type="submit" disabled={busy || !f.command.trim() || !hasTarget(f)}>
          {confirming ? `Run on ${preview?.count} hosts` : 'Run'}
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
