import type { AuditRecord, HostAccepted, HostKeyInfo, TaskCancelled, TaskList } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { type Answer, cli, useFakeController } from './cli.program.fixtures';
import { hostView } from './render/task.fixtures';

/** An OSC 52 clipboard write (`rm -rf ~`), a C1 CSI (U+009B, "clear screen"), a bidi override. */
const OSC52 = '\u001b]52;c;cm0gLXJmIH4=\u0007';
const C1 = '\u009b2J';
const BIDI = '\u202e';
const EVIL = `${OSC52}${C1}${BIDI}`;
/** what a terminal would act on, in anything the CLI writes */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const auditRecord = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  id: 1,
  at: '2026-01-01T00:00:00.000Z',
  actor: 'anonymous',
  source: '10.0.0.9',
  action: 'task.create',
  decision: 'denied',
  reason: `no token ${EVIL}`,
  taskId: null,
  hosts: [],
  command: `echo ${EVIL}`,
  cwd: null,
  envNames: [],
  runAs: null,
  invocationId: null,
  detail: { method: 'POST', status: 401 },
  count: 1,
  ...over,
});

describe('every line the CLI writes shows what a host, a client or the controller said as data', () => {
  const ctl = useFakeController();

  it('warren audit: the table and --json hold no ESC, C1 or bidi control, and --json still parses to the same record', async () => {
    const record = auditRecord();
    ctl.route = () => ({ status: 200, body: { records: [record] } });
    const table = await cli(['audit', '--url', ctl.url]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('\\x1b]52;c;');
    expect(table.stdout).not.toMatch(UNSAFE);
    const json = await cli(['audit', '--json', '--url', ctl.url]);
    expect(json.stdout).not.toMatch(UNSAFE);
    expect(json.stdout).toContain('\\u009b');
    expect(JSON.parse(json.stdout)).toEqual({ records: [record] });
  });

  it('warren audit shows how many refusals a record stands for', async () => {
    ctl.route = () => ({ status: 200, body: { records: [auditRecord({ id: 2, count: 979 }), auditRecord()] } });
    const r = await cli(['audit', '--url', ctl.url]);
    expect(r.stdout.split('\n')[1]).toMatch(/ denied ×979 /);
    expect(r.stdout.split('\n')[2]).toMatch(/ denied {2,}/);
  });

  it('warren hosts (table and --json), hosts accept, reject and keys: labels, version and key ids are escaped', async () => {
    const accepted: HostAccepted = {
      host: `web1${C1}`,
      keyId: `SHA256:x${OSC52}`,
      replaced: null,
      trust: 'accepted',
      labels: { [`role${C1}`]: `db${OSC52}` },
      accepted: 'key',
    };
    const hosts = [hostView('web1', { labels: { role: `db${OSC52}` }, version: `1${C1}` })];
    const keys: HostKeyInfo[] = [
      {
        host: `web1${C1}`,
        keyId: `SHA256:k${OSC52}`,
        status: 'pending',
        firstSeen: '2026-12-01T00:00:00.000Z',
        lastSeen: '2026-12-01T00:00:01.000Z',
        labels: { [`role${OSC52}`]: `db${C1}` },
        acceptedLabels: null,
      },
    ];
    ctl.route = (req): Answer =>
      req.method === 'POST'
        ? { status: 200, body: accepted }
        : req.url.startsWith('/v1/hosts/keys')
          ? { status: 200, body: { keys } }
          : { status: 200, body: { hosts } };
    for (const argv of [
      ['hosts'],
      ['hosts', '--json'],
      ['hosts', 'accept', 'web1'],
      ['hosts', 'reject', 'web1'],
      ['hosts', 'keys'],
    ]) {
      const r = await cli([...argv, '--url', ctl.url]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(UNSAFE);
      expect(r.stdout.length).toBeGreaterThan(0);
    }
  });

  it('warren hosts accept --key of a key not heard: says it is pre-accepted and awaits its first heartbeat; reject --key withdraws', async () => {
    const pre: HostAccepted = {
      host: 'web1',
      keyId: `SHA256:new${C1}`,
      replaced: 'SHA256:old',
      trust: 'accepted',
      labels: {},
      accepted: 'pre-accepted',
    };
    ctl.route = (req): Answer =>
      req.url.endsWith('/accept')
        ? { status: 200, body: pre }
        : { status: 200, body: { host: 'web1', keyId: `SHA256:new${C1}`, preAccepted: true } };
    const accepted = await cli(['hosts', 'accept', 'web1', '--key', 'SHA256:new', '--url', ctl.url]);
    expect(accepted).toMatchObject({ code: 0 });
    expect(accepted.stdout).toBe(
      'pre-accepted web1 key SHA256:new\\u009b2J: awaiting its first heartbeat (then it replaces SHA256:old)\n',
    );
    const withdrawn = await cli(['hosts', 'reject', 'web1', '--key', 'SHA256:new', '--url', ctl.url]);
    expect(withdrawn.stdout).toBe('withdrew web1 pre-accepted key SHA256:new\\u009b2J\n');
  });

  it('warren tasks and cancel: commands and host names from the controller are escaped', async () => {
    const cancelled: TaskCancelled = {
      id: 't_abc',
      cancelled: [`web1${OSC52}`],
      killing: [`web2${C1}`],
      state: 'running',
    };
    const list = {
      tasks: [
        {
          id: 't_abc',
          command: `deploy ${EVIL}`,
          state: 'running',
          createdAt: new Date().toISOString(),
          finishedAt: null,
          summary: { total: 1, byState: { running: 1 } },
        },
      ],
    } as TaskList;
    ctl.route = (req): Answer =>
      req.method === 'POST' ? { status: 200, body: cancelled } : { status: 200, body: list };
    for (const argv of [['tasks'], ['cancel', 't_abc']]) {
      const r = await cli([...argv, '--url', ctl.url]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(UNSAFE);
      expect(r.stdout).toMatch(/\\x1b|\\u009b/);
    }
  });

  it("an error that quotes the controller's answer is escaped on stderr", async () => {
    ctl.route = () => ({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: `label ${OSC52} is not valid${C1}` },
    });
    const r = await cli(['tasks', '--url', ctl.url]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('warren: label \\x1b]52;c;');
    expect(r.stderr).not.toMatch(UNSAFE);
  });

  it('a usage error quoting what was typed (or pasted into the shell) is escaped on stderr', async () => {
    const r = await cli(['tasks', `--bogus${OSC52}`, '--url', ctl.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('\\x1b]52');
    expect(r.stderr).not.toMatch(UNSAFE);
  });
});
