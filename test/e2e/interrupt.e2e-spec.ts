import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Terminal } from '../support/terminal';
import { Warren } from './harness';

const ROOT = resolve(__dirname, '../..');

/** `warren <args>` on a pseudo-terminal (util-linux `script`), so that Ctrl-C and keypresses are real. */
const warren = (args: string[], env: Record<string, string>) =>
  new Terminal(
    [process.execPath, join(ROOT, 'bin/warren.js'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' '),
    env,
  );

describe('Ctrl-C while warren waits on a task', () => {
  const w = new Warren();
  const env = () => ({ WARREN_URL: w.url, WARREN_TOKEN: w.token });

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('i1');
  });
  afterAll(() => w.teardown());

  it('asks, ignores a stray Enter, and [c] cancels the task on every host, then shows the cancelled result', async () => {
    const t = warren(['run', 'sleep 30', '--hosts', 'i1', '--wait'], env());
    await t.waitFor(/waiting \(Ctrl-C: cancel or detach\)/);
    await w.agents.get('i1')!.waitFor(/"invocation started"/);
    t.type('\x03');
    await t.waitFor(/\[c\]ancel task t_\w+ on every host, or \[d\]etach/);
    t.type('\r');
    await new Promise((r) => setTimeout(r, 200));
    t.type('c');
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(1);
    expect(t.screen).toMatch(/cancelling t_\w+: 0 not started, 1 being killed/);
    expect(t.screen).toMatch(/i1\s+cancelled/);
  }, 30_000);

  it('withdraws the question when the task finishes unanswered: the results, exit 0, the terminal left as it was', async () => {
    const t = warren(['run', 'sleep 1.5; echo done', '--hosts', 'i1', '--wait'], env());
    await t.waitFor(/waiting \(Ctrl-C: cancel or detach\)/);
    t.type('\x03');
    await t.waitFor(/\[d\]etach/);
    const exit = await Promise.race([
      t.exited,
      new Promise((r) => setTimeout(() => r('still running 8 s later'), 8_000)),
    ]);
    expect(exit, `exit status; the screen shows:\n${t.screen}`).toBe(0);
    expect(t.screen).toMatch(/\(the task has finished\)[\s\S]*i1\s+succeeded[\s\S]*done/);
  }, 30_000);

  it('[d] detaches: prints the task id, exits 130, and the task keeps running', async () => {
    const t = warren(['run', 'sleep 2; echo later', '--hosts', 'i1', '--stream'], env());
    await t.waitFor(/streaming \(Ctrl-C: cancel or detach\)/);
    t.type('\x03');
    await t.waitFor(/\[d\]etach/);
    t.type('d');
    expect(await t.exited, `exit status; the screen shows:\n${t.screen}`).toBe(130);
    const id = /detached; task (t_\w+) keeps running/.exec(t.screen)?.[1];
    expect(id).toBeTruthy();
    const done = (await w.api('GET', `/v1/tasks/${id}?waitMs=10000`)).body;
    expect(done.results[0]).toMatchObject({ state: 'succeeded', stdout: 'later\n' });
  }, 30_000);
});
