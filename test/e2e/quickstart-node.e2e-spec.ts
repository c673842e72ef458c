import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');

/** What the scripts need besides node, npm and apt: linked into a bin directory that is the whole PATH. */
const TOOLS = ['bash', 'sed', 'head', 'cat', 'id', 'dirname', 'hostname', 'tr', 'cut', 'chmod'];

interface Machine {
  bin: string;
  /** where the stub apt-get writes each call's arguments, one line per call */
  aptLog: string;
}

/**
 * A machine in a directory: PATH holds only {@link TOOLS}, plus a `node` printing `node` (a version, or none),
 * an `apt-cache` whose `policy nodejs` says `candidate` (or none at all), and an `apt-get` that logs its
 * arguments and, on `install`, puts a `node` printing `installs` on PATH.
 */
function machine(opts: { node?: string; candidate?: string | null; installs?: string }): Machine {
  const bin = mkdtempSync(join(tmpdir(), 'warren-node-'));
  dirs.push(bin);
  for (const tool of TOOLS) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
  const aptLog = join(bin, 'apt.log');
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/usr/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  if (opts.node) script('node', `echo ${opts.node}`);
  if (opts.candidate !== null)
    script(
      'apt-cache',
      `echo "nodejs:"; echo "  Installed: (none)"; echo "  Candidate: ${opts.candidate ?? '(none)'}"`,
    );
  script(
    'apt-get',
    `echo "$*" >> ${aptLog}\n` +
      (opts.installs
        ? `case "$*" in *install*) printf '#!/usr/bin/bash\\necho ${opts.installs}\\n' > ${bin}/node; chmod +x ${bin}/node;; esac`
        : ''),
  );
  return { bin, aptLog };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(script: string, m: Machine): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      `/usr/bin/bash`,
      [join(ROOT, script)],
      { env: { PATH: m.bin, HOME: m.bin }, cwd: ROOT, timeout: 30_000 },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const aptCalls = (m: Machine) => (existsSync(m.aptLog) ? readFileSync(m.aptLog, 'utf8').trim().split('\n') : []);

describe('quick start on a machine without a recent enough Node.js (scripts/ensure-node.sh)', () => {
  it('uses a node of 20.19 or later as it is, and installs nothing', async () => {
    for (const node of ['v20.19.0', 'v22.12.0', 'v24.1.0']) {
      const m = machine({ node, candidate: '18.19.0+dfsg-6~deb12u2' });
      const r = await run('scripts/ensure-node.sh', m);
      expect([node, r.code, r.stdout]).toEqual([node, 0, `node: ${node}\n`]);
      expect(aptCalls(m)).toEqual([]);
    }
  });

  it("installs the distribution's nodejs and npm when its candidate is 20.19 or later (Debian 13)", async () => {
    const m = machine({ node: 'v18.20.4', candidate: '20.19.2+dfsg-1', installs: 'v20.19.2' });
    const r = await run('scripts/ensure-node.sh', m);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "node: installing the distribution's nodejs 20.19.2+dfsg-1 (found: v18.20.4)\nnode: v20.19.2\n",
    );
    expect(aptCalls(m)).toEqual([
      '-o DPkg::Lock::Timeout=600 update -qq',
      '-o DPkg::Lock::Timeout=600 install -y -qq nodejs npm',
    ]);
  });

  it('stops with the commands that install the LTS when the distribution offers too old a nodejs (Debian 12) or none', async () => {
    for (const [node, candidate, offers] of [
      [undefined, '18.19.0+dfsg-6~deb12u2', 'offers 18.19.0+dfsg-6~deb12u2, too old'],
      ['v20.18.3', '18.19.0+dfsg-6~deb12u2', 'offers 18.19.0+dfsg-6~deb12u2, too old'],
      [undefined, null, 'offers no nodejs package'],
      [undefined, '(none)', 'offers no nodejs package'],
    ] as const) {
      const m = machine({ node, candidate });
      const r = await run('scripts/ensure-node.sh', m);
      expect([node, candidate, r.code]).toEqual([node, candidate, 1]);
      expect(r.stderr).toContain(
        `Warren needs Node.js 20.19 or later (found: ${node ?? 'none'}); this distribution ${offers}.`,
      );
      expect(r.stderr).toContain('curl -fsSL https://deb.nodesource.com/setup_24.x -o /tmp/nodesource_setup.sh');
      expect(r.stderr).toContain('sudo apt-get install -y nodejs');
      expect(aptCalls(m)).toEqual([]);
    }
  });

  it('makes the quick start stop before it installs or starts anything', async () => {
    const m = machine({ candidate: '18.19.0+dfsg-6~deb12u2' });
    const r = await run('scripts/quickstart.sh', m);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('== Node.js\n');
    expect(r.stderr).toMatch(/^Warren needs Node\.js 20\.19 or later \(found: none\)/);
  });
});
