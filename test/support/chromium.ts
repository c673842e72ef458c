import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Starts Debian's Chromium for the console's browser tests and the bench: headless, no sandbox
 * (tests run as root), no GPU, and none of its background traffic (updates, sync, field trials),
 * so that the only requests are the page's. One browser at a time: close it in `afterAll`.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-default-apps',
      '--disable-sync',
      '--disable-field-trial-config',
      '--no-first-run',
      '--metrics-recording-only',
      '--disable-dev-shm-usage',
    ],
  });
}
