import type { HostResult, HostView, TaskAccepted, TaskView } from '@warren/api';

/** Fixtures for render specs: a fixed clock and results that differ from a plain success only where a test says. */
export const T0 = Date.parse('2025-01-01T00:00:00.000Z');
export const iso = (ms: number) => new Date(T0 + ms).toISOString();

export function result(host: string, over: Partial<HostResult> = {}): HostResult {
  const stdout = over.stdout ?? '';
  const stderr = over.stderr ?? '';
  return {
    host,
    invocationId: `i-${host}`,
    state: 'succeeded',
    exitCode: 0,
    signal: null,
    stdout,
    stderr,
    stdoutBytes: Buffer.byteLength(stdout),
    stderrBytes: Buffer.byteLength(stderr),
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutUtf8: true,
    stderrUtf8: true,
    reason: null,
    rejectCode: null,
    startedAt: iso(10),
    finishedAt: iso(20),
    durationMs: 10,
    file: null,
    ...over,
  };
}

export function task(results: HostResult[], over: Partial<TaskView> = {}): TaskView {
  const byState: Record<string, number> = {};
  for (const r of results) byState[r.state] = (byState[r.state] ?? 0) + 1;
  return {
    id: 't_abc',
    command: 'deploy',
    transfer: null,
    stdin: null,
    cwd: null,
    envNames: [],
    runAs: null,
    createdBy: null,
    state: 'completed',
    timeoutMs: 2000,
    deliveryTimeoutMs: 60_000,
    killGraceMs: 5_000,
    concurrency: null,
    maxErrors: null,
    rerunOf: null,
    live: true,
    createdAt: iso(0),
    finishedAt: iso(1200),
    summary: { total: results.length, byState },
    results,
    ...over,
  };
}

/** The `202` answer of `POST /v1/tasks`: sent to `hosts`, no rolling limits. */
export function accepted(id: string, hosts: string[], over: Partial<TaskAccepted> = {}): TaskAccepted {
  return { id, hosts, state: 'running', concurrency: null, maxErrors: null, ...over };
}

/** One agent of `GET /v1/hosts`: online, key accepted, idle. */
export function hostView(host: string, over: Partial<HostView> = {}): HostView {
  return {
    host,
    status: 'online',
    labels: {},
    pendingLabels: null,
    version: '0.1.0',
    running: 0,
    concurrency: 4,
    lastSeen: new Date(T0).toISOString(),
    trust: 'accepted',
    keyId: `key-${host}`,
    pendingKeyIds: [],
    ...over,
  };
}

/** `web01`…`web<n>`, zero-padded to two digits. */
export const webHosts = (n: number) => Array.from({ length: n }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);
