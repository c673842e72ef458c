#!/usr/bin/env node
// `npm run pack:agent` (after `nest build agent`): packs the self-contained agent into
// dist/warren-agent-<version>.tgz, one directory `warren-agent/` holding
//   warren-agent.js           the bundle (dist/apps/agent/main.js, built by scripts/agent-bundle.webpack.js), executable
//   README.txt                how to run it, its --help (every flag and WARREN_* variable), where the docs are
//   THIRD-PARTY-LICENSES.txt  the licence of every package bundled in it (from the build's bundled-packages.json)
//   install-agent.md, warren-agent.service, agent.env, agent-policy.yaml   from docs/
// Usage: node scripts/pack-agent.mjs [--out DIR]   (prints the archive's path)
// The archive is the same bytes for the same build: entries sorted, owned by 0:0, dated by the
// commit (SOURCE_DATE_EPOCH wins), gzip without a timestamp. Needs GNU tar.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = join(ROOT, 'dist/apps/agent/main.js');
const PACKAGES = join(ROOT, 'dist/apps/agent/bundled-packages.json');
/** Files copied from docs/ into the archive, under the same names. */
const DOCS = ['install-agent.md', 'examples/warren-agent.service', 'examples/agent.env', 'examples/agent-policy.yaml'];

/** A reason to stop that needs no stack trace: printed as one line, exit 1. */
class PackError extends Error {}

const { values } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'dist') } } });
const { version, license } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const stage = mkdtempSync(join(tmpdir(), 'warren-pack-'));
try {
  for (const f of [BUNDLE, PACKAGES]) {
    if (!existsSync(f)) fail(`${f} is missing: run \`nest build agent\` first (npm run pack:agent does)`);
  }
  const dir = join(stage, 'warren-agent');
  mkdirSync(dir);
  const agent = join(dir, 'warren-agent.js');
  writeFileSync(agent, `#!/usr/bin/env node\n${readFileSync(BUNDLE, 'utf8')}`);
  chmodSync(agent, 0o755);
  // What the packed file says of itself: the test that it runs alone, before anything is written.
  const run = (...args) => execFileSync(process.execPath, [agent, ...args], { cwd: stage, encoding: 'utf8' });
  const stamp = run('--version').trim();
  if (!stamp.startsWith(`${version} `)) fail(`the bundle says ${stamp}, package.json ${version}: rebuild it`);
  writeFileSync(join(dir, 'README.txt'), readme(stamp, run('--help')));
  writeFileSync(join(dir, 'THIRD-PARTY-LICENSES.txt'), licences(JSON.parse(readFileSync(PACKAGES, 'utf8'))));
  for (const f of DOCS) copyFileSync(join(ROOT, 'docs', f), join(dir, f.split('/').pop()));

  mkdirSync(values.out, { recursive: true });
  const out = join(resolve(values.out), `warren-agent-${version}.tgz`);
  const tar = execFileSync(
    'tar',
    [
      '-C',
      stage,
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mode=u+rwX,go+rX,go-w', // whatever the umask: directories 0755, files 0644, the agent 0755
      `--mtime=@${epoch()}`,
      '-cf',
      '-',
      'warren-agent',
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  writeFileSync(out, gzipSync(tar, { level: 9 }));
  process.stdout.write(`${out}\n`);
} catch (err) {
  if (!(err instanceof PackError)) throw err;
  process.stderr.write(`pack-agent: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/** Stops the script with `message` on stderr and exit 1 (the stage directory is removed on the way out). */
function fail(message) {
  throw new PackError(message);
}

/** s since epoch for every entry's mtime: SOURCE_DATE_EPOCH, else the commit's time, else now. */
function epoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(
      execFileSync('git', ['log', '-1', '--format=%ct'], {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim(),
    );
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

function readme(stamp, help) {
  return `warren-agent ${stamp}

The Warren agent: runs the shell commands a Warren controller signs for this host, sent over
RabbitMQ, and replies with their results. warren-agent.js holds the agent and every package it
uses: it needs Node.js 20.19 or later on the PATH and nothing else (no npm, no node_modules, no
native modules).

Files
  warren-agent.js            the agent: ./warren-agent.js --help, or node warren-agent.js
  warren-agent.service       systemd unit; its ExecStart is /usr/local/bin/warren-agent
  agent.env                  every WARREN_* setting the agent reads, with its default: /etc/warren/agent.env
  agent-policy.yaml          a local policy to start from: /etc/warren/policy.yaml
  install-agent.md           the whole installation, step by step (docs/install-agent.md in Warren)
  THIRD-PARTY-LICENSES.txt   the licences of the packages bundled in warren-agent.js

Install (as root): one directory per version, /opt/warren-agent linking the one in use
  install -d -m 0755 /opt/warren-agent-${version}
  tar xzf warren-agent-${version}.tgz -C /opt/warren-agent-${version} --strip-components=1 --no-same-owner
  ln -sfn /opt/warren-agent-${version} /opt/warren-agent
  ln -sfn /opt/warren-agent/warren-agent.js /usr/local/bin/warren-agent
  warren-agent --version
An upgrade unpacks the new version beside the old one and moves the /opt/warren-agent link;
a rollback moves it back. Then the broker password, the controller's key, the policy, agent.env and the unit: install-agent.md.

Upgrade the controller first, then the agents host by host: a controller accepts agents of its
own protocol version and the one before (install-agent.md, "Upgrading").

Every setting is a flag or the environment variable named after it (warren-agent --help):

${help.trimEnd()}
`;
}

/** THIRD-PARTY-LICENSES.txt: a list of the bundled packages, then each one's licence files as it ships them. */
function licences(packages) {
  const head = packages.map((p) => `  ${`${p.name}@${p.version}`.padEnd(40)} ${p.license}`).join('\n');
  const texts = packages.map((p) => {
    const files = readdirSync(p.dir)
      .filter((f) => /^(licen[cs]e|copying|notice)([._-].*)?$/i.test(f))
      .sort();
    const body = files.length
      ? files.map((f) => readFileSync(join(p.dir, f), 'utf8').trimEnd()).join('\n\n')
      : `(the package ships no licence file; its package.json says ${p.license})`;
    return `==== ${p.name}@${p.version} (${p.license}) ====\n\n${body}\n`;
  });
  return (
    `warren-agent.js is Warren's agent (${license}, as package.json says), bundled with these packages, ` +
    `each under the licence named:\n\n${head}\n\n${texts.join('\n')}`
  );
}
