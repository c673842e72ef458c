import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_COMMAND_MS, Warren } from './harness';

const ROOT = resolve(__dirname, '../..');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * Where Node would find packages for a script in `dir` that exist on this machine: a
 * `node_modules` in `dir` or above it, or one of Node's global folders (`NODE_PATH`,
 * `~/.node_modules`, `~/.node_libraries`, `<prefix>/lib/node`). The test means something only when none does.
 */
function packageFolders(dir: string): string[] {
  const found = (Module as unknown as { globalPaths: string[] }).globalPaths.filter((p) => existsSync(p));
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

/**
 * docs/install-agent.md, tested: the artifact `npm run pack:agent` makes (here its second half,
 * scripts/pack-agent.mjs, over the agent `npm run build` bundled) is unpacked into a directory
 * with no node_modules anywhere above it, its warren-agent.js started from there against a real
 * controller and broker, its key accepted with the CLI, and a command run through it.
 */
describe('the agent artifact: one file that runs with nothing but Node', () => {
  const w = new Warren();
  const work = mkdtempSync(join(tmpdir(), 'warren-artifact-'));
  /** /opt/warren-agent-<version> of the install doc */
  const install = join(work, 'opt', `warren-agent-${version}`);
  /** /opt/warren-agent of the install doc: a symlink to the version in use */
  const current = join(work, 'opt', 'warren-agent');
  /** /usr/local/bin/warren-agent of the install doc: a symlink to warren-agent.js through {@link current} */
  const bin = join(work, 'bin', 'warren-agent');
  let tgz = '';

  beforeAll(async () => {
    tgz = execFileSync(process.execPath, [join(ROOT, 'scripts/pack-agent.mjs'), '--out', join(work, 'out')], {
      encoding: 'utf8',
      timeout: SYNC_COMMAND_MS,
      killSignal: 'SIGKILL',
    }).trim();
    // docs/install-agent.md, step 1, as written there
    mkdirSync(install, { recursive: true });
    execFileSync('tar', ['xzf', tgz, '-C', install, '--strip-components=1', '--no-same-owner']);
    mkdirSync(dirname(bin));
    symlinkSync(install, current);
    symlinkSync(join(current, 'warren-agent.js'), bin);
    await w.startController({}, []); // no --auto-accept: the key is accepted as the install doc says
  });
  afterAll(async () => {
    await w.teardown();
    rmSync(work, { recursive: true, force: true });
  });

  it('is named after the version and holds the bundle, its README, licences, unit, env file and policy', () => {
    expect(tgz).toBe(join(work, 'out', `warren-agent-${version}.tgz`));
    expect(readdirSync(install).sort()).toEqual([
      'README.txt',
      'THIRD-PARTY-LICENSES.txt',
      'agent-policy.yaml',
      'agent.env',
      'install-agent.md',
      'warren-agent.js',
      'warren-agent.service',
    ]);
    const licences = readFileSync(join(install, 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    for (const pkg of ['amqplib', 'pino', 'commander', 'yaml'])
      expect(licences).toMatch(new RegExp(`^==== ${pkg}@\\S+ \\((MIT|ISC)\\) ====$`, 'm'));
    // The agent is a plain composition root (apps/agent/src/agent.ts): no Nest, no reflect-metadata.
    expect(licences).not.toMatch(/^==== (@nestjs\/|reflect-metadata@)/m);
    const readme = readFileSync(join(install, 'README.txt'), 'utf8');
    expect(readme).toMatch(new RegExp(`^warren-agent ${version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{7,}`));
    // Its install steps are the guide's, word for word (a README that unpacked into /opt/warren-agent
    // itself would make the guide's upgrade, which moves that link, a no-op).
    const guide = readFileSync(join(install, 'install-agent.md'), 'utf8');
    const steps = guide
      .split('\n')
      .filter((l) => /^(install -d|tar xzf|ln -sfn) /.test(l))
      .slice(0, 4)
      .map((l) => l.replaceAll('$V', version));
    expect(steps).toHaveLength(4);
    for (const step of steps) expect(readme).toContain(`  ${step}\n`);
  });

  it('requires nothing but Node built-ins', () => {
    const bundle = readFileSync(join(install, 'warren-agent.js'), 'utf8');
    const required = [...new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))];
    expect(required).toContain('node:crypto');
    expect(required.filter((r) => !Module.isBuiltin(r))).toEqual([]);
  });

  it('says its version and the commit it was built from, run alone from a directory with no node_modules', () => {
    expect(packageFolders(install)).toEqual([]);
    // Run as the unit runs it: the link (the file's #! line finds node on the PATH), no other environment.
    const PATH = `${dirname(process.execPath)}:${process.env.PATH}`;
    const out = execFileSync(bin, ['--version'], {
      cwd: install,
      encoding: 'utf8',
      env: { PATH },
      timeout: SYNC_COMMAND_MS,
    });
    expect(out).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')} \\(commit [0-9a-f]{7,}(-dirty)?\\)\\n$`));
  });

  it('connects to the controller, is accepted with the CLI, and runs a command', async () => {
    const agent = await w.startAgent('artifact1', { NODE_PATH: '' }, [], { entry: bin, cwd: install });
    const started = JSON.parse(await agent.waitFor(/"agent started"/));
    expect(started).toMatchObject({ version, protocol: 2, commit: expect.stringMatching(/^[0-9a-f]{7,}/) });
    const accept = await w.cli(['hosts', 'accept', 'artifact1']);
    expect(accept.code, accept.stderr).toBe(0);
    const run = await w.cli(['run', 'echo "artifact says $((6 * 7))"', '--hosts', 'artifact1', '--wait']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^artifact1\s+succeeded\s+exit 0/m);
    expect(run.stdout).toContain('    artifact says 42\n');
  });
});
