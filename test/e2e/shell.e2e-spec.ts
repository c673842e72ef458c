import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FakeController } from '../support/fake-controller';
import { Terminal } from '../support/terminal';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/**
 * `warren shell` driven like a person at a terminal: util-linux `script` gives it a
 * pseudo-terminal, the test types keystrokes (arrows, Ctrl-C, Ctrl-D) into it and reads the
 * screen. The controller is a stand-in answering the few HTTP calls the CLI makes: the shell is
 * a client feature, and what the controller does with a task is tested elsewhere.
 */

const ROOT = resolve(__dirname, '../..');
const WARREN = join(ROOT, 'bin/warren.js');
const UP = '\x1b[A';
const CTRL_C = '\x03';
const CTRL_D = '\x04';

describe('warren shell on a terminal', () => {
  const ctl = new FakeController();
  let url = '';
  let home = '';
  const terminals: Terminal[] = [];
  const open = (args = '') => {
    const t = new Terminal(`node ${WARREN} --url ${url} shell ${args}`, { HOME: home });
    terminals.push(t);
    return t;
  };

  beforeAll(async () => {
    url = await ctl.start();
  });
  afterAll(() => ctl.stop());
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'warren-shell-home-'));
    ctl.reset();
  });
  afterEach(() => {
    for (const t of terminals.splice(0)) t.kill();
    rmSync(home, { recursive: true, force: true });
  });

  it('runs commands typed at the prompt, recalls them with the up arrow, and leaves with exit', async () => {
    const t = open();
    let at = await t.waitFor(/warren> /);

    t.type('hosts\r');
    at = await t.waitFor(/web1\s+online\s+accepted\s+role=web[\s\S]*web2\s+online[\s\S]*warren> /, at);

    t.type('@web1,web2 uptime\r');
    at = await t.waitFor(/2 hosts: 2 succeeded[\s\S]*warren> /, at);
    expect(ctl.seen.find((s) => s.method === 'POST')?.body).toEqual({ command: 'uptime', hosts: ['web1', 'web2'] });

    // a bad line prints the usage error and the prompt comes back
    t.type('hosts --bogus\r');
    at = await t.waitFor(/warren: unknown option '--bogus'[\s\S]*warren> /, at);

    // two lines back is the @ line: Enter runs it again
    t.type(UP);
    at = await t.waitFor(/hosts --bogus/, at);
    t.type(UP);
    at = await t.waitFor(/@web1,web2 uptime/, at);
    t.type('\r');
    at = await t.waitFor(/2 hosts: 2 succeeded[\s\S]*warren> /, at);
    expect(ctl.count('POST', /^\/v1\/tasks$/)).toBe(2);

    t.type('check t_1 --collapse\r');
    await t.waitFor(/==== web\[1-2\] \(2\) succeeded exit 0 ====\n {4} 10:00:00 up 3 days/, at);

    t.type('exit\r');
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(0);
    expect(readFileSync(join(home, '.warren', 'shell_history'), 'utf8')).toBe(
      ['hosts', 'hosts --bogus', '@web1,web2 uptime', 'check t_1 --collapse', 'exit', ''].join('\n'),
    );
  });

  it('clears a half-typed line on Ctrl-C without running it, and leaves with status 0 on Ctrl-D', async () => {
    const t = open();
    let at = await t.waitFor(/warren> /);
    t.type('tasks --limit 5');
    at = await t.waitFor(/tasks --limit 5/, at);
    t.type(CTRL_C);
    at = await t.waitFor(/tasks --limit 5\^C\nwarren> $/, at - 'tasks --limit 5'.length);
    // the line is gone: Enter now runs nothing
    t.type('\r');
    await t.waitFor(/warren> \nwarren> $/, at - 'warren> '.length);
    t.type(CTRL_D);
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(0);
    expect(ctl.seen).toEqual([]);
  });

  it('on Ctrl-C while waiting, [d] detaches: the prompt comes back, the task goes on, and exit still leaves at once', async () => {
    const t = open();
    let at = await t.waitFor(/warren> /);
    t.type('@web1 sleep 100\r');
    at = await t.waitFor(/task t_slow1 sent to 1 host\(s\); waiting \(Ctrl-C: cancel or detach\)/, at);
    t.type(CTRL_C);
    at = await t.waitFor(/\[c\]ancel task t_slow1 on every host, or \[d\]etach/, at);
    t.type('x'); // not an answer: ignored, and not typed into the next line
    t.type('d');
    at = await t.waitFor(
      /detached; task t_slow1 keeps running\. See it with: warren check t_slow1 --wait[\s\S]*warren> /,
      at,
    );
    expect(ctl.count('POST', /\/cancel$/)).toBe(0);
    const polls = ctl.count('GET', /^\/v1\/tasks\/t_slow1/);
    t.type('hosts\r');
    at = await t.waitFor(/web2\s+online[\s\S]*warren> /, at);
    // nothing of the abandoned wait reaches the screen, and the ignored key did not reach the line
    expect(t.screen.slice(at)).not.toMatch(/running/);
    expect(t.screen).not.toMatch(/xhosts|unknown command/);
    // the abandoned wait must not keep the process alive after exit
    t.type('exit\r');
    expect(
      await Promise.race([t.exited, new Promise((r) => setTimeout(() => r('still running 3 s after exit'), 3000))]),
    ).toBe(0);
    expect(ctl.count('GET', /^\/v1\/tasks\/t_slow1/)).toBeLessThanOrEqual(polls + 1);
  });

  it('on Ctrl-C while waiting, [c] cancels the task and shows it cancelled; Ctrl-C on a line with no task just stops it', async () => {
    const t = open();
    let at = await t.waitFor(/warren> /);
    t.type('run "sleep 100" --hosts web1 web2 --wait\r');
    at = await t.waitFor(/task t_slow1 sent to 2 host\(s\); waiting/, at);
    t.type(CTRL_C);
    at = await t.waitFor(/\[d\]etach/, at);
    t.type('c');
    at = await t.waitFor(
      /cancelling t_slow1: 0 not started, 2 being killed[\s\S]*2 hosts: 2 cancelled[\s\S]*warren> /,
      at,
    );
    expect(ctl.seen.filter((x) => x.method === 'POST' && x.url === '/v1/tasks/t_slow1/cancel')).toHaveLength(1);
    t.type('check t_slow1\r');
    at = await t.waitFor(/web1\s+cancelled[\s\S]*warren> /, at);
    const before = at;
    t.type('audit\r'); // the controller never answers this one: Ctrl-C has no task to ask about
    await new Promise((r) => setTimeout(r, 300));
    t.type(CTRL_C);
    await t.waitFor(/\^C\nwarren: stopped; a task it had already sent goes on[\s\S]*warren> /, at);
    expect(t.screen.slice(before)).not.toMatch(/\[d\]etach/);
    t.type('exit\r');
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(0);
  });

  it("withdraws the question when the task finishes unanswered, and the keyboard is the prompt's again", async () => {
    const t = open();
    let at = await t.waitFor(/warren> /);
    t.type('@web1 brief\r');
    at = await t.waitFor(/task t_brief1 sent to 1 host\(s\); waiting/, at);
    t.type(CTRL_C);
    at = await t.waitFor(/\[d\]etach/, at);
    at = await t.waitFor(/\(the task has finished\)[\s\S]*web1\s+succeeded[\s\S]*warren> /, at);
    t.type('hosts\r');
    await t.waitFor(/web2\s+online[\s\S]*warren> /, at);
    expect(ctl.count('POST', /\/cancel$/)).toBe(0);
    t.type('exit\r');
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(0);
  });

  it("recalls the previous session's lines from the history file", async () => {
    const first = open();
    await first.waitFor(/warren> /);
    first.type('check t_404\r');
    await first.waitFor(/no task t_404[\s\S]*warren> /);
    first.type(CTRL_D);
    expect(await first.exited, `exit status; the screen shows:\n${first.screen}`).toBe(0);

    const second = open();
    const at = await second.waitFor(/warren> /);
    second.type(UP);
    await second.waitFor(/check t_404/, at);
    second.type('\r');
    await second.waitFor(/no task t_404[\s\S]*warren> /, at);
    expect(ctl.count('GET', /^\/v1\/tasks\/t_404/)).toBe(2);
    second.type('quit\r');
    expect(await second.exited, `exit status; the screen shows:\n${second.screen}`).toBe(0);
  });
});

describe('warren shell reading a script', () => {
  it("runs each line without a prompt and exits with the last line's status", async () => {
    const ctl = new FakeController();
    const url = await ctl.start();
    try {
      const child = spawn('node', [WARREN, '--url', url, 'shell'], {
        env: { ...process.env, WARREN_SHELL_HISTORY: '' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.stdin.end('hosts --json\n@web1 uptime\ncheck t_nope\n');
      const code = await new Promise((r) => child.on('exit', r));
      expect(out).not.toContain('warren>');
      expect(JSON.parse(out.slice(0, out.indexOf('\n}\n') + 2)).hosts).toHaveLength(2);
      expect(out).toMatch(/1 host: 1 succeeded/);
      expect(err).toMatch(/no task t_nope/);
      expect(code).toBe(2);
    } finally {
      await ctl.stop();
    }
  });
});
