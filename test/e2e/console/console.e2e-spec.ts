import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../support/chromium';
import { TcpProxy } from '../../support/tcp-proxy';
import { until, Warren } from '../harness';

/**
 * The web console in Debian's Chromium, against a real controller and three real agents. The
 * browser reaches the controller through a TCP relay, so a test can drop its connections (as a
 * network would) while the controller and agents go on.
 */

/** 40 lines, one every 100 ms; h2 fails (exit 3), so a re-run has a failed subset */
const TICKER = 'for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done; [ "$ROLE" != h2 ] || exit 3';
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

describe('web console', () => {
  const w = new Warren();
  let browser: Browser;
  let proxy: TcpProxy;
  let base = '';
  const pageErrors: string[] = [];

  beforeAll(async () => {
    await w.startController();
    // h3 keeps 2 KiB of each stream, so a longer output shows the cap.
    await Promise.all(
      ['h1', 'h2', 'h3'].map((h) =>
        w.startAgent(h, { ROLE: h, ...(h === 'h3' ? { WARREN_MAX_OUTPUT_BYTES: '2048' } : {}) }),
      ),
    );
    proxy = await new TcpProxy({ host: '127.0.0.1', port: Number(new URL(w.url).port) }).start();
    base = `http://127.0.0.1:${proxy.port}`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await proxy?.stop();
    await w.teardown();
    // A CSP violation or an uncaught error in any page fails the file here.
    expect(pageErrors).toEqual([]);
  });

  /** A new tab (its own sessionStorage) signed in with `token`. */
  async function signedIn(token = w.token): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(`${base}/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Views' }).waitFor();
    return page;
  }

  /** The text of the selected host's stdout pane. */
  const stdoutOf = (page: Page, host: string) => page.getByLabel(`stdout of ${host}`).textContent();

  it('serves the page and its assets without a token under a same-origin CSP, and deep links too', async () => {
    const page = await fetch(`${w.url}/`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    expect(html).not.toMatch(/<script>/);
    expect((await fetch(`${w.url}${script}`)).status).toBe(200);
    const deep = await fetch(`${w.url}/tasks/t_whatever`);
    expect(deep.status).toBe(200);
    expect(await deep.text()).toBe(html);
    // The API, /metrics and /healthz stay theirs: never the page.
    expect((await fetch(`${w.url}/v1/nope`)).headers.get('content-type')).toMatch(/json/);
    expect((await fetch(`${w.url}/v1/tasks`)).status).toBe(401);
    expect((await fetch(`${w.url}/healthz`)).headers.get('content-type')).toMatch(/json/);
  });

  it('signs in with a token kept in sessionStorage only, lists the hosts, and a 401 brings back the sign-in', async () => {
    const token = w.createToken('passing', 'admin');
    const page = await signedIn(token);
    const rows = page.getByRole('table', { name: 'Hosts' }).locator('tbody tr');
    await until(async () => (await rows.count()) === 3);
    expect(await rows.allTextContents()).toEqual([
      expect.stringMatching(/^h1online/),
      expect.stringMatching(/^h2online/),
      expect.stringMatching(/^h3online/),
    ]);
    expect(await page.evaluate(() => (globalThis as any).localStorage.length)).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('warren.token'))).toBe(token);
    // Filter by a range.
    await page.getByLabel('Name pattern').fill('h[2-3]');
    await until(async () => (await rows.count()) === 2);
    w.controllerCommand(['token', 'revoke', 'passing']);
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('warren.token'))).toBeNull();
    await page.close();
  });

  it('runs a command on three hosts from the Run view and shows live lines before they finish', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Run' }).click();
    await page.getByLabel('Command').fill(TICKER);
    await page.getByRole('textbox', { name: /^Hosts \(/ }).fill('h[1-3] nohost*');
    await page.getByText('matches 3 hosts').waitFor();
    await page.getByText('matched no usable host: nohost*').waitFor();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/tasks\/t_/);
    const taskId = page.url().split('/').pop()!;
    // h1 is the first row and selected: its lines appear while it still runs.
    await until(async () => (await stdoutOf(page, 'h1'))?.includes('line 3'), 10_000);
    const task = (await w.api('GET', `/v1/tasks/${taskId}`)).body;
    expect(task.state).toBe('running');
    expect(task.results.every((r: any) => r.state === 'running' || r.state === 'pending')).toBe(true);
    // The others, picked with the keyboard.
    await page.getByRole('grid', { name: 'Hosts of this task' }).locator('.vbody').press('ArrowDown');
    await until(async () => (await stdoutOf(page, 'h2'))?.includes('line'), 10_000);
    await page
      .getByText('3 hosts: 2 succeeded, 1 failed')
      .or(page.getByText('3 hosts: 1 failed, 2 succeeded'))
      .waitFor({ timeout: 20_000 });
    await page.getByRole('region', { name: 'Summary' }).getByText('h2').waitFor();
    expect(await stdoutOf(page, 'h2')).toBe(lines(40).join('\n') + '\n');
    // Identical outputs are folded: h1 and h3 succeeded with the same lines.
    await page.getByRole('region', { name: 'Identical outputs' }).getByText('h[1,3]').waitFor();
    await page.close();
  });

  it('asks to confirm a run above 50 hosts, and sends nothing before', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Run' }).click();
    await page.getByLabel('Command').fill('true');
    await page.getByRole('textbox', { name: /^Hosts \(/ }).fill('gone[01-51]');
    await page.getByText('matches 51 hosts').waitFor();
    const before = (await w.api('GET', '/v1/tasks?limit=1000')).body.tasks.length;
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByText('This runs on 51 hosts.').waitFor();
    expect((await w.api('GET', '/v1/tasks?limit=1000')).body.tasks.length).toBe(before);
    await page.getByRole('button', { name: 'Run on 51 hosts' }).click();
    await page.waitForURL(/\/tasks\/t_/);
    await page.getByText('51 hosts: 51 unknown host').waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('resumes the live output after the connection drops, with no line lost or repeated', async () => {
    const page = await signedIn();
    const eventRequests: (string | null)[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/events')) eventRequests.push(r.headers()['last-event-id'] ?? null);
    });
    const { body } = await w.api('POST', '/v1/tasks', { command: TICKER, hosts: ['h1'] });
    await page.goto(`${base}/tasks/${body.id}`);
    await until(async () => (await stdoutOf(page, 'h1'))?.includes('line 5'), 10_000);
    await proxy.cut();
    await new Promise((r) => setTimeout(r, 500));
    await proxy.restore();
    // The lines printed while it was cut arrive on the resumed stream, before the result.
    await until(async () => (await stdoutOf(page, 'h1'))?.includes('line 25'), 10_000);
    const live = (await stdoutOf(page, 'h1'))!;
    expect((await w.api('GET', `/v1/tasks/${body.id}`)).body.results[0].state).toBe('running');
    const got = live.split('\n').filter(Boolean);
    expect(got).toEqual(lines(got.length));
    expect(eventRequests.length).toBeGreaterThanOrEqual(2);
    expect(eventRequests[0]).toBeNull();
    expect(eventRequests.at(-1)).toMatch(/^\d+-\d+$/);
    await page.getByText('1 hosts: 1 succeeded').waitFor({ timeout: 20_000 });
    expect(await stdoutOf(page, 'h1')).toBe(lines(40).join('\n') + '\n');
    await page.close();
  });

  it('cancels a running task', async () => {
    const page = await signedIn();
    const { body } = await w.api('POST', '/v1/tasks', { command: 'sleep 30', hosts: ['h1', 'h2', 'h3'] });
    await page.goto(`${base}/tasks/${body.id}`);
    await until(async () => (await w.api('GET', `/v1/tasks/${body.id}`)).body.summary.byState.running === 3);
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.getByText('3 hosts: 3 cancelled').waitFor({ timeout: 20_000 });
    expect((await w.api('GET', `/v1/tasks/${body.id}`)).body.state).toBe('cancelled');
    await page.close();
  });

  it('re-runs the failed subset as a new task', async () => {
    const page = await signedIn();
    const done = await w.runAndWait({ command: '[ "$ROLE" != h2 ]', hosts: ['h1', 'h2', 'h3'] });
    expect(done.summary.byState).toEqual({ succeeded: 2, failed: 1 });
    await page.goto(`${base}/tasks/${done.id}`);
    await page.getByRole('button', { name: 'Re-run 1 failed host' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/tasks/') && !u.pathname.endsWith(done.id));
    const rerunId = page.url().split('/').pop()!;
    const rerun = (await w.api('GET', `/v1/tasks/${rerunId}`)).body;
    expect(rerun.rerunOf).toBe(done.id);
    expect(rerun.results.map((r: any) => r.host)).toEqual(['h2']);
    await page.getByText('1 hosts: 1 failed').waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('shows a viewer no Run, and the server refuses a run it forges with 403', async () => {
    const viewer = w.createToken('watcher', 'viewer');
    const page = await signedIn(viewer);
    const nav = page.getByRole('navigation', { name: 'Views' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Hosts', 'Tasks']);
    await page.goto(`${base}/run`);
    await page.getByRole('table', { name: 'Hosts' }).waitFor();
    expect(await page.getByLabel('Command').count()).toBe(0);
    const forged = await page.evaluate(async (token) => {
      const res = await fetch('/v1/tasks', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ command: 'id', hosts: ['h1'] }),
      });
      return res.status;
    }, viewer);
    expect(forged).toBe(403);
    await page.close();
  });

  it('shows host output as text: markup a host prints is never interpreted', async () => {
    const page = await signedIn();
    const markup = '<img src=x onerror="document.title=1"><b>bold</b>';
    const done = await w.runAndWait({ command: `printf '%s\\n' '${markup}'`, hosts: ['h1'] });
    await page.goto(`${base}/tasks/${done.id}`);
    await until(async () => (await stdoutOf(page, 'h1')) === `${markup}\n`);
    expect(await page.locator('.output img, .output b').count()).toBe(0);
    expect(await page.title()).toBe('Warren');
    await page.close();
  });

  it('says when output is over the cap and downloads the kept bytes with the token', async () => {
    const page = await signedIn();
    const done = await w.runAndWait({ command: 'seq 1 2000', hosts: ['h3'] });
    const all = Array.from({ length: 2000 }, (_, i) => `${i + 1}\n`).join('');
    expect(done.results[0]).toMatchObject({ stdoutTruncated: true, stdoutBytes: all.length });
    await page.goto(`${base}/tasks/${done.id}`);
    await page
      .getByText(`stdout is over the output cap: ${all.length} bytes were written, the first 2048 are kept`)
      .waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download the kept stdout bytes' }).click(),
    ]);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile((await download.path())!, 'utf8')).toBe(all.slice(0, 2048));
    await page.close();
  });

  it('lists a changed host key with its fingerprint and lets an admin accept it', async () => {
    await w.startAgent('h4');
    const oldKey = await w.hostKeyId('h4');
    await w.agents.get('h4')!.stop();
    // The same host reinstalled: a new state directory, so a new key, which nobody accepted.
    await w.startAgent('h4', {}, ['--state-dir', join(w.dir, 'agent-h4-reinstalled')], { wait: false });
    const newKey = await until(async () => {
      const { hosts } = (await w.api('GET', '/v1/hosts')).body;
      return hosts.find((h: any) => h.host === 'h4' && h.trust === 'changed')?.pendingKeyIds[0];
    }, 20_000);
    const page = await signedIn();
    const pending = page.getByRole('region', { name: 'Pending keys' });
    await pending.getByText(newKey).waitFor();
    await pending.getByRole('button', { name: 'Accept h4' }).click();
    await page.getByText(`Accepted ${newKey} for h4.`).waitFor();
    const h4 = (await w.api('GET', '/v1/hosts')).body.hosts.find((h: any) => h.host === 'h4');
    expect(h4).toMatchObject({ trust: 'accepted', keyId: newKey });
    expect(newKey).not.toBe(oldKey);
    await page.close();
  });

  it('lists the runs in the history and the audit view, each a link to the task', async () => {
    const page = await signedIn();
    const done = await w.runAndWait({ command: 'echo audited', hosts: ['h3'] });
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('table', { name: 'Tasks' }).getByRole('link', { name: done.id }).waitFor();
    // Filtered by command text on the server: only the matching task is listed, and the filter is in the link.
    await page.getByLabel('Command contains').fill('AUDITED');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/\/tasks\?q=AUDITED/);
    await until(async () => (await page.getByRole('table', { name: 'Tasks' }).locator('tbody tr').count()) === 1);
    await page.getByRole('table', { name: 'Tasks' }).getByRole('link', { name: done.id }).waitFor();
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByLabel('Task').fill(done.id);
    await page.getByRole('button', { name: 'Filter' }).click();
    const rows = page.getByRole('table', { name: 'Audit records' }).locator('tbody tr');
    // Once filtered, only this task's records are left.
    await until(async () => (await rows.allTextContents()).every((t) => t.includes(done.id)));
    const row = rows.filter({ hasText: 'task.create' });
    expect(await row.textContent()).toMatch(/e2e.*task\.create.*allowed.*echo audited/);
    await row.getByRole('link', { name: done.id }).click();
    await page.getByRole('heading', { name: new RegExp(done.id) }).waitFor();
    await page.close();
  });
});
