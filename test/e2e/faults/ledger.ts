import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type InvocationState, TERMINAL_STATES } from '@warren/protocol';
import { sleep, type Warren } from '../harness';

/** Environment variable each fault-test agent carries (commands inherit the agent's environment) naming its host. */
export const HOST_VAR = 'FAULT_HOST';

/** States that say the command never ran on its host. */
const NEVER_RAN = new Set(['undelivered', 'unknown_host', 'rejected', 'error', 'skipped']);

/** What one scenario found; every count must be zero. */
export interface LedgerCounts {
  /** invocations accepted by the API */
  invocations: number;
  /** accepted, never reached a terminal state by its deadline (not the invocation state `lost`, which is terminal) */
  unfinished: number;
  /** executed more than once (its token appears more than once in the side-effect file) */
  duplicated: number;
  /** executed without being sent (a token nobody sent, or sent to another host) */
  unexpected: number;
  /** the stored state contradicts the side effect: `succeeded` but it never ran, or a never-ran state (`undelivered`, `rejected`…) but it ran */
  inconsistent: number;
  /** final states, counted */
  byState: Record<string, number>;
}

/** What the ledger reads of `GET /v1/tasks/:id`. */
interface TaskSeen {
  state: string;
  results: { host: string; state: string; reason?: string | null }[];
}

interface SentTask {
  id: string;
  token: string;
  hosts: string[];
  command: string;
  /** epoch ms by which every invocation must be terminal: delivery timeout + timeout + kill grace + the controller's graces */
  deadline: number;
}

/** The API's defaults (TASK_DEFAULTS) and the harness's controller graces, ms. */
const DEFAULTS = { timeoutMs: 60_000, deliveryTimeoutMs: 60_000, killGraceMs: 5_000 };
const HARNESS_GRACES_MS = 1_000 + 1_000;

/** Options of one task sent through the ledger. */
export interface SendOptions {
  /** shell run before the side effect (e.g. `sleep 1`) */
  before?: string;
  /** shell run after the side effect (e.g. `sleep 30`, for a command still running when something breaks) */
  after?: string;
  timeoutMs?: number;
  deliveryTimeoutMs?: number;
  killGraceMs?: number;
  /** a rolling run: at most this many hosts at once (the API's `concurrency`, a count or `N%`) */
  concurrency?: number | string;
}

/**
 * Counts, per invocation, what a fault did to execution. Every command appends a token unique to
 * its invocation (`<task token>-$FAULT_HOST`: the agent exports no invocation id, but each agent
 * here carries its own host in {@link HOST_VAR}) to one side-effect file; the API says what the
 * controller stored. Then: unfinished = not terminal by its deadline, duplicated = token seen twice or
 * more, unexpected = token never sent to that host.
 */
export class Ledger {
  /** the first 10 invocations the last count found not succeeded, `task host state (ran n×): reason`, for the report */
  private notSucceeded: string[] = [];
  readonly sideFile: string;
  private readonly sent: SentTask[] = [];

  constructor(
    private readonly w: Warren,
    readonly scenario: string,
  ) {
    this.sideFile = join(w.dir, `side-${scenario.replace(/[^a-z0-9]+/gi, '-')}`);
  }

  /** Sends one task to `hosts` through the API; returns its id. Throws if the API refuses it. */
  async send(hosts: string[], opts: SendOptions = {}): Promise<string> {
    const r = await this.trySend(hosts, opts);
    if (typeof r !== 'string') throw new Error(`POST /v1/tasks → ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  }

  /**
   * Sends one task; returns its id, or the API's answer when it was refused. A refused task is not
   * expected to run: if its token ever shows up, it counts as unexpected.
   */
  async trySend(hosts: string[], opts: SendOptions = {}): Promise<string | { status: number; body: unknown }> {
    const token = `tok${randomBytes(6).toString('hex')}`;
    const effect = `echo ${token}-$${HOST_VAR} >> ${this.sideFile}`;
    const command = [opts.before, effect, opts.after].filter(Boolean).join('; ');
    const body: Record<string, unknown> = { command, hosts };
    for (const k of ['timeoutMs', 'deliveryTimeoutMs', 'killGraceMs', 'concurrency'] as const)
      if (opts[k] !== undefined) body[k] = opts[k];
    const sentAt = Date.now();
    const res = await this.w.api('POST', '/v1/tasks', body);
    if (res.status !== 202) {
      this.refused.push(res.status);
      return res;
    }
    const d = { ...DEFAULTS, ...opts };
    this.sent.push({
      id: res.body.id,
      token,
      hosts,
      command,
      deadline: sentAt + d.deliveryTimeoutMs + d.timeoutMs + d.killGraceMs + HARNESS_GRACES_MS,
    });
    return res.body.id;
  }

  /** HTTP statuses of the POSTs the API refused. */
  readonly refused: number[] = [];

  /** Ids of the tasks sent so far. */
  get taskIds(): string[] {
    return this.sent.map((t) => t.id);
  }

  /** The exact command sent for `taskId` (to forge a re-published copy of it). */
  commandOf(taskId: string): string {
    const t = this.sent.find((s) => s.id === taskId);
    if (!t) throw new Error(`task ${taskId} was not sent through this ledger`);
    return t.command;
  }

  /** States of every invocation sent so far, counted, as the API reports them now. */
  async snapshot(): Promise<Record<string, number>> {
    const byState: Record<string, number> = {};
    for (const t of this.sent) {
      const res = await this.w.api('GET', `/v1/tasks/${t.id}`);
      for (const r of res.body.results as { state: string }[]) byState[r.state] = (byState[r.state] ?? 0) + 1;
    }
    return byState;
  }

  /** Side-effect lines written so far. */
  executions(): string[] {
    return existsSync(this.sideFile) ? readFileSync(this.sideFile, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** How many times the command of `taskId` ran on `host`. */
  runsOf(taskId: string, host: string): number {
    const t = this.sent.find((s) => s.id === taskId);
    if (!t) throw new Error(`task ${taskId} was not sent through this ledger`);
    return this.executions().filter((l) => l === `${t.token}-${host}`).length;
  }

  /**
   * Waits until every task has completed or passed its deadline (+ `slackMs`), then `quietMs` more
   * so that a late duplicate would show, and counts.
   */
  async settle(slackMs = 3_000, quietMs = 1_000): Promise<LedgerCounts> {
    const tasks = new Map<string, TaskSeen>();
    for (const t of this.sent) {
      const end = t.deadline + slackMs;
      for (;;) {
        const left = end - Date.now();
        const res = await this.w.api('GET', `/v1/tasks/${t.id}?waitMs=${Math.max(0, Math.min(left, 10_000))}`);
        if (res.status !== 200) throw new Error(`GET /v1/tasks/${t.id} → ${res.status} ${JSON.stringify(res.body)}`);
        tasks.set(t.id, res.body);
        if (res.body.state !== 'running' || left <= 0) break;
      }
    }
    await sleep(quietMs);
    return this.count(tasks);
  }

  private count(tasks: Map<string, TaskSeen>): LedgerCounts {
    this.notSucceeded = [];
    const runs = new Map<string, number>();
    for (const line of this.executions()) runs.set(line, (runs.get(line) ?? 0) + 1);
    const expected = new Set<string>();
    const c: LedgerCounts = {
      invocations: 0,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: {},
    };
    for (const t of this.sent) {
      const results = tasks.get(t.id)?.results ?? [];
      for (const host of t.hosts) {
        const key = `${t.token}-${host}`;
        expected.add(key);
        c.invocations++;
        const r = results.find((x) => x.host === host);
        const state = r?.state ?? 'missing';
        c.byState[state] = (c.byState[state] ?? 0) + 1;
        const n = runs.get(key) ?? 0;
        if (!TERMINAL_STATES.has(state as InvocationState)) c.unfinished++; // 'missing' is not terminal
        if (n > 1) c.duplicated++;
        if ((state === 'succeeded' && n === 0) || (NEVER_RAN.has(state) && n !== 0)) c.inconsistent++;
        if (state !== 'succeeded' && this.notSucceeded.length < 10)
          this.notSucceeded.push(`${t.id} ${host} ${state} (ran ${n}×): ${r?.reason ?? ''}`);
      }
    }
    for (const line of runs.keys()) if (!expected.has(line)) c.unexpected++;
    return c;
  }

  /** One line per scenario, quotable in the closing note and docs/reliability.md. */
  report(c: LedgerCounts, extra: Record<string, unknown> = {}): string {
    const more = Object.entries(extra)
      .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join('');
    const why = this.notSucceeded.length > 0 ? `\n  not succeeded (first 10): ${this.notSucceeded.join('\n  ')}` : '';
    const line = `[faults] ${this.scenario}: invocations=${c.invocations} unfinished=${c.unfinished} duplicated=${c.duplicated} unexpected=${c.unexpected} inconsistent=${c.inconsistent} states=${JSON.stringify(c.byState)}${more}${why}`;
    console.log(line);
    return line;
  }
}

/** Agent env for fault tests: the host variable commands use in their side effect. */
export function agentEnv(host: string): Record<string, string> {
  return { [HOST_VAR]: host };
}

/** Starts agents for `hosts` a few at a time (each boot costs about a CPU-second on two cores), each with {@link agentEnv}. */
export async function startAgents(w: Warren, hosts: string[], args: string[] = [], batch = 5): Promise<void> {
  for (let i = 0; i < hosts.length; i += batch) {
    await Promise.all(hosts.slice(i, i + batch).map((h) => w.startAgent(h, agentEnv(h), args)));
  }
}
