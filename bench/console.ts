/**
 * `BENCH_ONLY=console npm run bench`: the web console in Debian's Chromium on a task of 1,000
 * simulated hosts (bench/sim-agents.ts: real protocol, answers at once, so every result arrives
 * within a second or two, the console's hardest case). Per round: time from opening the task's page
 * to its grid's first rows, from the POST to the page showing all 1,000 results, the tab's JS heap
 * then, and the longest main-thread task (PerformanceObserver 'longtask', which reports tasks over
 * 50 ms; 0 means none) while the page loads, and from its first rows until all results are shown
 * (the grid scrolled end to end once). Wall-clock: on a busy machine a task waits for a core too.
 * docs/console.md gives the numbers.
 */
import type { TaskAccepted } from '@warren/api';
import { launchChromium } from '../test/support/chromium';
import type { Row } from './lib';
import { BenchWarren } from './warren';

type RowFn = (group: string, name: string, unit: string, xs: number[], extra?: Partial<Row>) => Row;

/** What the page's globals look like to the scripts run in it (this file compiles without the DOM types). */
interface PageGlobals {
  sessionStorage: { setItem(k: string, v: string): void };
  /** [start, duration] of each long task, ms on the page's clock */
  longTasks: [number, number][];
  performance: { memory: { usedJSHeapSize: number } };
}

const HOSTS = 1_000;
const GROUP = `console, ${HOSTS.toLocaleString('en')} simulated hosts`;

/** Runs the console rounds; each round is a new task and a fresh tab. */
export async function consoleRows(opts: { quick: boolean; row: RowFn; log: (m: string) => void }): Promise<void> {
  const w = new BenchWarren();
  const browser = await launchChromium();
  try {
    await w.startController();
    const hosts = await w.startSimulated('con', HOSTS);
    opts.log(`console: ${hosts.length} simulated hosts online`);
    const firstPaint: number[] = [];
    const allResults: number[] = [];
    const heap: number[] = [];
    const loading: number[] = [];
    const longest: number[] = [];
    for (let round = 0; round < (opts.quick ? 1 : 5); round++) {
      const page = await browser.newPage();
      // Signed in as the tab would be after a sign-in; the long-task observer set up before the page's own script.
      await page.addInitScript((token: string) => {
        const g = globalThis as unknown as PageGlobals;
        g.sessionStorage.setItem('warren.token', token);
        g.longTasks = [];
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) g.longTasks.push([e.startTime, e.duration]);
        }).observe({ type: 'longtask' as 'mark', buffered: true }); // a browser entry type Node's typings lack
      }, w.token);
      await page.goto(`${w.url}/hosts`);
      await page.getByRole('table', { name: 'Hosts' }).waitFor();
      const t0 = performance.now();
      const res = await fetch(`${w.url}/v1/tasks`, {
        method: 'POST',
        headers: w.headers(),
        body: JSON.stringify({ command: 'hostname', hosts }),
      });
      const { id } = (await res.json()) as TaskAccepted;
      const t1 = performance.now();
      await page.goto(`${w.url}/tasks/${id}`);
      await page.locator('.vbody .vrow').first().waitFor();
      firstPaint.push(performance.now() - t1);
      const painted = await page.evaluate(() => performance.now());
      await page.getByText(`${HOSTS} hosts: ${HOSTS} succeeded`).waitFor({ timeout: 120_000 });
      allResults.push(performance.now() - t0);
      // Scroll the whole grid once: drawing stays bounded to the visible rows.
      await page.locator('.vbody').press('End');
      await page.locator('.vbody').press('Home');
      const m = await page.evaluate((since: number) => {
        const g = globalThis as unknown as PageGlobals;
        // No inner named function: tsx's keepNames would wrap it in a helper the page does not have.
        let load = 0;
        let live = 0;
        for (const [at, d] of g.longTasks) {
          if (at < since) load = Math.max(load, d);
          else live = Math.max(live, d);
        }
        return { heap: g.performance.memory.usedJSHeapSize, load, live };
      }, painted);
      heap.push(m.heap / 2 ** 20);
      loading.push(m.load);
      longest.push(m.live);
      await page.close();
    }
    opts.row(GROUP, 'task page: first rows of the grid', 'ms', firstPaint);
    opts.row(GROUP, 'POST to all results shown', 'ms', allResults);
    opts.row(GROUP, 'tab JS heap after all results', 'MiB', heap);
    opts.row(GROUP, 'longest main-thread task loading the page (0: none over 50 ms)', 'ms', loading);
    opts.row(GROUP, 'longest main-thread task while results arrive', 'ms', longest);
  } finally {
    await browser.close();
    await w.teardown();
  }
}
