import type { OutputStream } from '@warren/api/tasks.contract';
import { useState } from 'preact/hooks';
import { authHeaders, checkUnauthorized, errorText } from '../api';
import { State } from '../components/State';
import { duration } from '../format';
import type { HostRow } from '../task-model';

/**
 * Downloads one stream's exact bytes (`GET /v1/tasks/:id/results/:host/stdout`): fetched with the
 * bearer token (a plain link could not carry it), then saved from a blob.
 */
async function downloadRaw(taskId: string, host: string, stream: OutputStream): Promise<void> {
  const res = await fetch(`/v1/tasks/${encodeURIComponent(taskId)}/results/${encodeURIComponent(host)}/${stream}`, {
    headers: authHeaders(),
    cache: 'no-store',
  });
  checkUnauthorized(res);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = `${taskId}-${host}.${stream}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** What the cap kept of a stream, when it cut it: the shown bytes, the total and the download. */
function Truncated({ taskId, row, stream }: { taskId: string; row: HostRow; stream: OutputStream }) {
  const [error, setError] = useState('');
  const r = row.result;
  if (!r || !(stream === 'stdout' ? r.stdoutTruncated : r.stderrTruncated)) return null;
  const total = stream === 'stdout' ? r.stdoutBytes : r.stderrBytes;
  return (
    <p class="truncated" role="note">
      {stream} is over the output cap: {total} bytes were written, the first {row[stream].bytes} are kept and shown.{' '}
      <button
        type="button"
        onClick={() => downloadRaw(taskId, row.host, stream).catch((err) => setError(errorText(err)))}
      >
        Download the kept {stream} bytes
      </button>
      {error && <span class="error"> {error}</span>}
    </p>
  );
}

/**
 * One host's output, live. Text only: Preact sets it as text nodes, so a host printing HTML or
 * script shows it as characters and never runs it (the console's defence with the CSP).
 */
export function HostOutput({ taskId, row }: { taskId: string; row: HostRow }) {
  return (
    <section class="output" aria-label={`Output of ${row.host}`}>
      <h2>
        {row.host} <State state={row.state} />{' '}
        <span class="muted">
          {row.exitCode !== null ? `exit ${row.exitCode}` : (row.signal ?? '')} {duration(row.durationMs)}
        </span>
      </h2>
      {row.reason && <p class="reason">{row.reason}</p>}
      <pre class="stdout" aria-label={`stdout of ${row.host}`} tabIndex={0}>
        {row.stdout.text}
      </pre>
      <Truncated taskId={taskId} row={row} stream="stdout" />
      {row.stderr.text && (
        <pre class="stderr" aria-label={`stderr of ${row.host}`} tabIndex={0}>
          {row.stderr.text}
        </pre>
      )}
      <Truncated taskId={taskId} row={row} stream="stderr" />
    </section>
  );
}
