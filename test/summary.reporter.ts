import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** How long a test file may run before the reporter names it as still running, in ms (WARREN_TEST_FILE_WARN_MS). */
const WARN_AFTER_MS = Number(process.env.WARREN_TEST_FILE_WARN_MS ?? 10 * 60_000);

/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, after vitest's own summary, so
 * that CI logs carry a runner-neutral count of what ran.
 *
 * It also names every test file still running {@link WARN_AFTER_MS} after it started (and again
 * each time as long again passes), with its first test that has no result yet: vitest prints a file only when it ends,
 * so a file blocked in a synchronous call (where its own timeouts cannot fire) would otherwise
 * leave a CI log that stops with no word of which file held it.
 */
export default class SummaryReporter implements Reporter {
  private readonly running = new Map<TestModule, { startedAt: number; warnedAt: number }>();
  private watchdog: NodeJS.Timeout | undefined;

  onTestModuleStart(testModule: TestModule): void {
    const now = Date.now();
    this.running.set(testModule, { startedAt: now, warnedAt: now });
    this.watchdog ??= setInterval(() => this.warnLongRunning(), Math.min(15_000, WARN_AFTER_MS / 2)).unref();
  }

  onTestModuleEnd(testModule: TestModule): void {
    this.running.delete(testModule);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (this.watchdog) clearInterval(this.watchdog);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
    }
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }

  private warnLongRunning(): void {
    const now = Date.now();
    for (const [m, times] of this.running) {
      if (now - times.warnedAt < WARN_AFTER_MS) continue;
      times.warnedAt = now;
      const current = [...m.children.allTests()].find((t) => t.result().state === 'pending');
      const where = current ? ` (first test without a result: "${current.fullName}")` : '';
      process.stdout.write(
        `\n[still running] ${relative(process.cwd(), m.moduleId)} after ${Math.round((now - times.startedAt) / 1000)} s${where}\n`,
      );
    }
  }
}
