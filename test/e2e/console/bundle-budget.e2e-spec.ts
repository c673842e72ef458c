import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const DIST = join(__dirname, '../../../dist/console');
/** bytes: the console's whole JavaScript, gzipped, at most (issue 17) */
const JS_BUDGET = 150 * 1024;

describe('the web console build', () => {
  it('ships at most 150 KB of gzipped JavaScript, all of it loaded from this origin', () => {
    const assets = readdirSync(join(DIST, 'assets'));
    const js = assets.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const gzipped = js.reduce((n, f) => n + gzipSync(readFileSync(join(DIST, 'assets', f)), { level: 9 }).length, 0);
    expect(gzipped).toBeLessThanOrEqual(JS_BUDGET);
    const html = readFileSync(join(DIST, 'index.html'), 'utf8');
    // No inline script (the CSP would refuse it) and nothing from another origin.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});
