import { matchHosts, splitHostPatterns } from '@warren/api/hostlist.globs';
import type { HostAccepted, HostKeyInfo, HostKeyList, HostList, HostView } from '@warren/api/hosts.contract';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { State } from '../components/State';
import { ago, labelText } from '../format';
import { may } from '../session';

/** ms between refreshes of the list (agents send a heartbeat every 5 s by default) */
const REFRESH_MS = 5_000;

/** The hosts a name pattern (`web[01-20]`, `db*`, a name) and `k=v` labels select; an unreadable pattern selects none. */
export function filterHosts(hosts: HostView[], pattern: string, labels: string): HostView[] {
  let names: Set<string> | null = null;
  if (pattern.trim()) {
    try {
      const known = hosts.map((h) => h.host);
      names = new Set(
        pattern
          .split(/\s+/)
          .flatMap((w) => (w ? splitHostPatterns(w) : []))
          .flatMap((p) => matchHosts(p, known)),
      );
    } catch {
      names = new Set();
    }
  }
  const pairs = labels
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((p) => p.split('=', 2));
  return hosts.filter(
    (h) =>
      (!names || names.has(h.host)) && pairs.every(([k, v]) => (v === undefined ? k in h.labels : h.labels[k] === v)),
  );
}

/** An admin accepts a pending key, naming its fingerprint (what the agent logged at its start). */
function Accept({ k, onDone }: { k: HostKeyInfo; onDone(text: string): void }) {
  const accept = async () => {
    try {
      const r = await api<HostAccepted>('POST', `/v1/hosts/${encodeURIComponent(k.host)}/accept`, { keyId: k.keyId });
      onDone(`Accepted ${r.keyId} for ${r.host}.`);
    } catch (err) {
      onDone(errorText(err));
    }
  };
  return (
    <button type="button" onClick={accept}>
      Accept {k.host}
    </button>
  );
}

/** The fleet: presence, trust and pending keys, labels, version, load; filtered by name pattern and label. */
export function Hosts() {
  const [hosts, setHosts] = useState<HostView[] | null>(null);
  const [pending, setPending] = useState<HostKeyInfo[]>([]);
  const [pattern, setPattern] = useState('');
  const [labels, setLabels] = useState('');
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const [h, k] = await Promise.all([
          api<HostList>('GET', '/v1/hosts'),
          api<HostKeyList>('GET', '/v1/hosts/keys'),
        ]);
        if (!live) return;
        setHosts(h.hosts);
        setPending(k.keys.filter((x) => x.status === 'pending'));
        setError('');
      } catch (err) {
        if (live) setError(errorText(err));
      }
    };
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => ((live = false), clearInterval(timer));
  }, [tick]);

  const shown = hosts ? filterHosts(hosts, pattern, labels) : [];
  return (
    <main class="hosts-view">
      <h1>Hosts</h1>
      <form class="filters" role="search" aria-label="Filter hosts" onSubmit={(e) => e.preventDefault()}>
        <label>
          Name pattern
          <input
            value={pattern}
            placeholder="web[01-20] db*"
            onInput={(e) => setPattern((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Labels
          <input
            value={labels}
            placeholder="zone=eu"
            onInput={(e) => setLabels((e.target as HTMLInputElement).value)}
          />
        </label>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {notice && <p role="status">{notice}</p>}
      {pending.length > 0 && (
        <section aria-label="Pending keys" class="pending">
          <h2>Keys waiting to be accepted</h2>
          <p class="muted">
            Nothing is sent to, or stored from, a host until its key is accepted. Compare the fingerprint with the one
            its agent logged.
          </p>
          <table>
            <thead>
              <tr>
                <th>Host</th>
                <th>Fingerprint</th>
                <th>Last heard</th>
                <th>Labels</th>
                {may('admin') && <th>Action</th>}
              </tr>
            </thead>
            <tbody>
              {pending.map((k) => (
                <tr key={k.keyId}>
                  <td>{k.host}</td>
                  <td>
                    <code>{k.keyId}</code>
                  </td>
                  <td>{ago(k.lastSeen)}</td>
                  <td>{labelText(k.labels)}</td>
                  {may('admin') && (
                    <td>
                      <Accept k={k} onDone={(t) => (setNotice(t), setTick((n) => n + 1))} />
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {hosts === null ? (
        <p class="loading">Loading…</p>
      ) : (
        <table aria-label="Hosts">
          <caption>
            {shown.length} of {hosts.length} hosts
          </caption>
          <thead>
            <tr>
              <th>Host</th>
              <th>State</th>
              <th>Last seen</th>
              <th>Trust</th>
              <th>Labels</th>
              <th>Version</th>
              <th>Running / slots</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((h) => (
              <tr key={h.host}>
                <td>{h.host}</td>
                <td>
                  <State state={h.status} />
                </td>
                <td>{ago(h.lastSeen)}</td>
                <td>
                  <State state={h.trust} />
                  {h.pendingKeyIds.length > 0 && <span class="muted"> ({h.pendingKeyIds.length} pending)</span>}
                </td>
                <td>
                  {labelText(h.labels)}
                  {h.pendingLabels && <span class="muted"> (announces {labelText(h.pendingLabels)})</span>}
                </td>
                <td>{h.version}</td>
                <td>
                  {h.running} / {h.concurrency}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
