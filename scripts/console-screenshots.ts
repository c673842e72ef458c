/**
 * Regenerates the screenshots of docs/console.md from a real installation: a controller, three real
 * agents and Debian's Chromium (playwright-core), on this machine's shared broker.
 *
 *   npm run build && npx tsx scripts/console-screenshots.ts     (writes docs/console/*.png)
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/support/chromium';
import { until, Warren } from '../test/e2e/harness';

const OUT = join(__dirname, '../docs/console');
const TICKER = 'for i in $(seq 1 30); do echo "step $i"; sleep 0.2; done; [ "$ROLE" != web02 ] || exit 3';

async function shoot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
  process.stdout.write(`wrote docs/console/${name}.png\n`);
}

async function main(): Promise<void> {
  const w = new Warren();
  const browser = await launchChromium();
  try {
    await w.startController();
    for (const [host, labels] of [
      ['web01', 'role=web,zone=eu'],
      ['web02', 'role=web,zone=eu'],
      ['db01', 'role=db,zone=us'],
    ])
      await w.startAgent(host, { ROLE: host }, ['--labels', labels]);
    await w.runAndWait({ command: 'uptime', hosts: ['web01', 'web02', 'db01'] });
    await w.runAndWait({ command: 'systemctl is-active nginx || true', labels: ['role=web'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${w.url}/`);
    await shoot(page, 'sign-in');
    await page.getByLabel('API token').fill(w.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('table', { name: 'Hosts' }).locator('tbody tr').nth(2).waitFor();
    await shoot(page, 'hosts');
    await page.getByRole('link', { name: 'Run' }).click();
    await page.getByLabel('Command').fill(TICKER);
    await page.getByRole('textbox', { name: /^Hosts \(/ }).fill('web[01-02] db* nosuch*');
    await page.getByText('matches 3 hosts').waitFor();
    await shoot(page, 'run');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/tasks\/t_/);
    await until(async () => (await page.getByLabel('stdout of db01').textContent())?.includes('step 8'), 20_000);
    await shoot(page, 'task-live');
    await page
      .getByText('3 hosts: 2 succeeded, 1 failed')
      .or(page.getByText('3 hosts: 1 failed, 2 succeeded'))
      .waitFor({ timeout: 30_000 });
    await page.getByRole('region', { name: 'Identical outputs' }).waitFor();
    await shoot(page, 'task-done', true);
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('table', { name: 'Tasks' }).waitFor();
    await shoot(page, 'history');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('table', { name: 'Audit records' }).waitFor();
    await shoot(page, 'audit');
  } finally {
    await browser.close();
    await w.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
