import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  ApiErrorBody,
  CreateTaskRequest,
  HostList,
  HostResult,
  HostView,
  TaskAccepted,
  TaskCancelled,
  TaskList,
  TaskSummary,
  TaskView,
} from '@warren/api';
import type { TaskState } from '@warren/protocol';

/**
 * A stand-in controller for CLI end-to-end specs that test a client feature (the shell), not what
 * the controller does with a task. It answers the few HTTP calls the CLI makes with bodies typed
 * by the contract (`@warren/api`), so a drift between the CLI, this fake and the controller fails
 * to compile.
 */

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** Answers like a controller whose hosts all print the same uptime; tasks named `t_slow*` never finish. */
export class FakeController {
  readonly seen: Seen[] = [];
  private tasks = new Map<string, { command: string; hosts: string[]; cancelled?: boolean; at?: number }>();
  private server: Server = createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const seen = { method: req.method ?? '', url: req.url ?? '', body: raw ? JSON.parse(raw) : undefined };
    this.seen.push(seen);
    const answer = this.answer(seen);
    if (!answer) return; // never answered
    const [status, body] = answer;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  reset(): void {
    this.seen.length = 0;
    this.tasks.clear();
  }

  count(method: string, path: RegExp): number {
    return this.seen.filter((s) => s.method === method && path.test(s.url)).length;
  }

  /** null: leave the request hanging (`GET /v1/audit` here: a controller that does not answer). */
  private answer(req: Seen): [number, Answer] | null {
    if (req.url.startsWith('/v1/audit')) return null;
    const now = new Date().toISOString();
    if (req.method === 'GET' && req.url === '/v1/hosts') {
      return [200, { hosts: [hostView('web1', now), hostView('web2', now)] } satisfies HostList];
    }
    if (req.method === 'POST' && req.url === '/v1/tasks') {
      const body = req.body as CreateTaskRequest;
      const command = body.command ?? '';
      const id = `${/sleep/.test(command) ? 't_slow' : /brief/.test(command) ? 't_brief' : 't_'}${this.tasks.size + 1}`;
      const hosts = body.hosts ?? [];
      this.tasks.set(id, { command, hosts, at: Date.now() });
      return [202, { id, hosts, state: 'running', concurrency: null, maxErrors: null } satisfies TaskAccepted];
    }
    const m = /^\/v1\/tasks\/([^/?]+)/.exec(req.url);
    if (req.method === 'POST' && m && req.url.endsWith('/cancel')) {
      const task = this.tasks.get(m[1]);
      if (!task) return [404, notFound(m[1])];
      task.cancelled = true;
      // As the controller: 200, the running hosts being killed, the task still running until they report.
      return [200, { id: m[1], cancelled: [], killing: task.hosts, state: 'running' } satisfies TaskCancelled];
    }
    if (req.method === 'GET' && m) {
      const task = this.tasks.get(m[1]);
      if (!task) return [404, notFound(m[1])];
      if (task.cancelled) {
        const results = task.hosts.map((host) =>
          hostResult(host, now, { state: 'cancelled', signal: 'SIGTERM', reason: 'cancelled by test', durationMs: 5 }),
        );
        return [200, taskView(m[1], task.command, 'cancelled', now, results, { cancelled: results.length })];
      }
      // `t_brief*` tasks run for 1.5 s, `t_slow*` ones forever
      const slow = m[1].startsWith('t_slow') || (m[1].startsWith('t_brief') && Date.now() - task.at! < 1_500);
      const results = task.hosts.map((host) =>
        hostResult(
          host,
          now,
          slow
            ? { state: 'running', stdoutBytes: 41, finishedAt: null }
            : {
                state: 'succeeded',
                exitCode: 0,
                stdout: ' 10:00:00 up 3 days,  load average: 0.00\n',
                stdoutBytes: 41,
                durationMs: 5,
              },
        ),
      );
      return [200, taskView(m[1], task.command, slow ? 'running' : 'completed', now, results, {})];
    }
    if (req.method === 'GET' && req.url.startsWith('/v1/tasks')) return [200, { tasks: [] } satisfies TaskList];
    return [404, { statusCode: 404, error: 'Not Found', message: `Cannot ${req.method} ${req.url}` }];
  }
}

/** Every body the fake answers with: the controller's contract, so that a drift fails to compile. */
type Answer = HostList | TaskAccepted | TaskCancelled | TaskView | TaskList | ApiErrorBody;

const notFound = (id: string): ApiErrorBody => ({
  statusCode: 404,
  error: 'TaskNotFoundError',
  message: `no task ${id}`,
});

function hostView(host: string, now: string): HostView {
  return {
    host,
    status: 'online',
    labels: { role: 'web' },
    pendingLabels: null,
    version: '0.1.0',
    running: 0,
    concurrency: 4,
    lastSeen: now,
    trust: 'accepted',
    keyId: `key-${host}`,
    pendingKeyIds: [],
  };
}

function hostResult(host: string, now: string, over: Partial<HostResult>): HostResult {
  return {
    host,
    invocationId: `i-${host}`,
    state: 'succeeded',
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    stdoutUtf8: true,
    stderrUtf8: true,
    reason: null,
    rejectCode: null,
    startedAt: now,
    finishedAt: now,
    durationMs: null,
    file: null,
    ...over,
  };
}

function taskView(
  id: string,
  command: string,
  state: TaskState,
  now: string,
  results: HostResult[],
  byState: TaskSummary['byState'],
): TaskView {
  return {
    id,
    command,
    transfer: null,
    stdin: null,
    cwd: null,
    envNames: [],
    runAs: null,
    createdBy: 'test',
    state,
    timeoutMs: 60_000,
    deliveryTimeoutMs: 60_000,
    killGraceMs: 5_000,
    concurrency: null,
    maxErrors: null,
    rerunOf: null,
    live: true,
    createdAt: now,
    finishedAt: state === 'running' ? null : now,
    summary: { total: results.length, byState },
    results,
  };
}
