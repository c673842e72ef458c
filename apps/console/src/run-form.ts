import { parseDurationMs } from '@warren/api/duration.rule';
import { splitHostPatterns } from '@warren/api/hostlist.globs';
import { compileHostPattern } from '@warren/api/hostlist.matcher';
import { hostPatternSize, isGlob } from '@warren/api/hostlist.ranges';
import { parseLimit } from '@warren/api/limit.rule';
import type { CreateTaskRequest } from '@warren/api/tasks.contract';

/** The Run form's rules, apart from its view: what a filled form asks the API, and what is typed wrong. */

/** hosts above which a run asks to be confirmed */
export const CONFIRM_ABOVE = 50;

/** The Run form as typed. */
export interface Form {
  command: string;
  target: 'hosts' | 'labels' | 'all';
  hosts: string;
  labels: string;
  timeout: string;
  deliveryTimeout: string;
  concurrency: string;
  maxErrors: string;
  env: string;
  cwd: string;
}

/** A blank form. */
export const EMPTY: Form = {
  command: '',
  target: 'hosts',
  hosts: '',
  labels: '',
  timeout: '',
  deliveryTimeout: '',
  concurrency: '',
  maxErrors: '',
  env: '',
  cwd: '',
};

/** The host patterns typed, split at blanks and at the commas outside brackets. */
const patternsOf = (text: string) => text.split(/\s+/).flatMap((w) => (w ? splitHostPatterns(w) : []));
/** The `k=v` pairs typed, split at blanks and commas. */
const labelsOf = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/**
 * Why the target cannot be previewed yet (a half-typed range, label or limit), by the API's own
 * rules, so that the preview sends nothing the controller would refuse: each refused task request
 * is an audit record. Null when it can.
 */
export function previewProblem(f: Form): string | null {
  try {
    if (f.target === 'hosts')
      for (const p of patternsOf(f.hosts))
        void (isGlob(p) ? compileHostPattern(p, 'hosts') : hostPatternSize(p, 'hosts'));
    else for (const pair of labelsOf(f.labels)) if (!/^[^=]+=/.test(pair)) return `labels: "${pair}" is not key=value`;
    if (f.concurrency.trim()) parseLimit(f.concurrency.trim(), 'concurrency');
    if (f.maxErrors.trim()) {
      if (!f.concurrency.trim()) return 'Max errors needs a concurrency';
      parseLimit(f.maxErrors.trim(), 'maxErrors');
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return null;
}

/** The request a form stands for; throws naming the field a person typed wrong. */
export function requestOf(f: Form): CreateTaskRequest {
  const req: CreateTaskRequest = { command: f.command };
  if (f.target === 'hosts') req.hosts = patternsOf(f.hosts);
  if (f.target === 'labels' || (f.target === 'all' && f.labels.trim())) req.labels = labelsOf(f.labels);
  if (f.target === 'all') req.all = true;
  const ms = (text: string, field: string) => {
    if (!text.trim()) return undefined;
    const v = parseDurationMs(text);
    if (v === null) throw new Error(`${field}: expected a duration (500ms, 30s, 5m, 1h)`);
    return v;
  };
  req.timeoutMs = ms(f.timeout, 'Timeout');
  req.deliveryTimeoutMs = ms(f.deliveryTimeout, 'Delivery timeout');
  if (f.concurrency.trim()) req.concurrency = f.concurrency.trim();
  if (f.maxErrors.trim()) req.maxErrors = f.maxErrors.trim();
  if (f.cwd.trim()) req.cwd = f.cwd.trim();
  const env: Record<string, string> = {};
  for (const line of f.env.split('\n')) {
    if (!line.trim()) continue;
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`Environment: "${line}" is not NAME=value`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  if (Object.keys(env).length) req.env = env;
  return req;
}

/** Whether the form names a target at all (else there is nothing to preview). */
export const hasTarget = (f: Form) =>
  f.target === 'all' || (f.target === 'hosts' ? f.hosts.trim() !== '' : f.labels.trim() !== '');
