/** Small formatters shared by the views. */

/** `12 ms`, `3.0 s`, `2 min 5 s`, or an empty string for no value. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** `5 s ago`, `3 min ago`, … from an ISO time. */
export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1_000));
  if (s < 60) return `${s} s ago`;
  if (s < 3_600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3_600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** One formatter for every date shown: `toLocale*String` builds a new one per call, which a page drawn each frame feels. */
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A local date and time, to the second. */
export function when(iso: string | null): string {
  return iso ? DATE_TIME.format(new Date(iso)) : '';
}

/** `k=v, k2=v2` */
export function labelText(labels: Record<string, string> | null): string {
  return labels
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')
    : '';
}
