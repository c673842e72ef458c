import type { Logger } from 'pino';
import { CgroupTracker, type CgroupSources } from './cgroup.tracker';

/** What a timeout or cancel kills: a cgroup v2 per command where possible, or its process group. */
export type TrackingMode = 'auto' | 'cgroup' | 'process-group';

/** The agent's choice: a cgroup tracker, or null and why not. */
export type TrackingChoice = { cgroups: CgroupTracker; note?: undefined } | { cgroups: null; note: string };

/**
 * Opens the agent's cgroup subtree `name` as `mode` asks: `auto` falls back to process groups with
 * the reason, `cgroup` throws an `Error` naming it (the agent refuses to start), `process-group`
 * does not try.
 */
export function chooseTracking(mode: TrackingMode, name: string, log: Logger, sources?: CgroupSources): TrackingChoice {
  if (mode === 'process-group') return { cgroups: null, note: 'process-group chosen by --process-tracking' };
  const opened = CgroupTracker.open(name, log, sources);
  if (opened instanceof CgroupTracker) return { cgroups: opened };
  if (mode === 'cgroup') throw new Error(`--process-tracking cgroup: ${opened.reason}`);
  return { cgroups: null, note: opened.reason };
}
