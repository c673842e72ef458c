/**
 * The SSH peers of the Warren benchmark: parallel-ssh (pssh), pdsh, clush
 * (ClusterShell) and ansible, all from Debian's packages, against host aliases
 * h001..h100 that all reach one private sshd on 127.0.0.1:2222.
 *
 * `setup.sh` (beside this file) installs the tools and starts that sshd; `teardown.sh`
 * stops it and removes `.state/`. Only the bench runs them, never `npm test` or CI.
 * No dependencies beyond node:*.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type PeerTool = 'pssh' | 'pdsh' | 'clush' | 'ansible';

export interface PeerCommand {
  tool: PeerTool;
  /** 'default': the tool's own parallelism; 'N': one connection per host at once. */
  parallelism: 'default' | 'N';
  /** Run as `spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env } })`; exits 0 when every host succeeded. */
  argv: string[];
  env: Record<string, string>;
}

/** How many host aliases setup.sh writes (h001..h100). */
export const MAX_PEER_HOSTS = 100;

/**
 * Each tool's parallelism when not told otherwise, as the installed Debian
 * packages (bookworm) document it:
 * - pssh 2.3.4: `-p` defaults to 32 (psshlib/cli.py `_DEFAULT_PARALLELISM = 32`).
 * - pdsh 2.34: `-f` "The default is 32" (pdsh(1); the FANOUT variable would change it).
 * - clush 1.9.1: `fanout: 64` in /etc/clustershell/clush.conf, also the built-in
 *   default (ClusterShell/Defaults.py).
 * - ansible 7.7.0 (ansible-core 2.14.18): `--forks` "default=5" (ansible(1), DEFAULT_FORKS).
 */
export const DEFAULT_PARALLELISM: Readonly<Record<PeerTool, number>> = {
  pssh: 32,
  pdsh: 32,
  clush: 64,
  ansible: 5,
};

function findPeersDir(): string {
  if (process.env.WARREN_PEERS_DIR) return resolve(process.env.WARREN_PEERS_DIR);
  // __dirname is this file's folder under CommonJS and vitest; when compiled
  // elsewhere (dist/...) or run as ESM, walk up to the repo's bench/peers.
  const starts = [typeof __dirname === 'string' ? __dirname : '', process.cwd()].filter(Boolean);
  for (const start of starts) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, 'setup.sh')) && existsSync(join(dir, 'peers.ts'))) return dir;
      const candidate = join(dir, 'bench', 'peers');
      if (existsSync(join(candidate, 'setup.sh'))) return candidate;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('bench/peers: cannot find the folder holding setup.sh (set WARREN_PEERS_DIR)');
}

/** Absolute path of bench/peers (holding setup.sh, teardown.sh and, once set up, .state/). */
export const PEERS_DIR: string = findPeersDir();
const STATE = join(PEERS_DIR, '.state');
const SSH_CONFIG = join(STATE, 'ssh_config');
const ANSIBLE_CONFIG = join(STATE, 'ansible.cfg');

/** Host aliases h001..h<n>. */
export function peerHosts(n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PEER_HOSTS) {
    throw new RangeError(`bench/peers: n must be an integer in 1..${MAX_PEER_HOSTS}, got ${n}`);
  }
  return Array.from({ length: n }, (_, i) => `h${String(i + 1).padStart(3, '0')}`);
}

/** A pdsh/clush host-list expression: h001 or h[001-010]. */
function hostRange(n: number): string {
  const last = peerHosts(n)[n - 1];
  return n === 1 ? last : `h[001-${last.slice(1)}]`;
}

/**
 * The command lines that run `command` (one shell command line, e.g.
 * `sh -c 'hostname; uptime'`) on h001..h<n>, for each tool at its default
 * parallelism and at parallelism n. Needs setupPeers() to have run.
 */
export function peerCommands(n: number, command: string): PeerCommand[] {
  const hosts = peerHosts(n);
  const range = hostRange(n);
  const sshF = `-F ${SSH_CONFIG}`;
  const out: PeerCommand[] = [];
  for (const parallelism of ['default', 'N'] as const) {
    const at = (flag: string): string[] => (parallelism === 'N' ? [flag, String(n)] : []);
    out.push(
      {
        tool: 'pssh',
        parallelism,
        // -i: print each host's output inline (without it pssh prints only status lines).
        // Exit status: 0 all ok, 4 some failed, 5 some command exited non-zero.
        argv: ['parallel-ssh', ...at('-p'), '-i', '-x', sshF, '-H', hosts.join(' '), command],
        env: {},
      },
      {
        tool: 'pdsh',
        parallelism,
        // -S: exit with the largest remote exit status (pdsh's own is 0 otherwise).
        argv: ['pdsh', '-R', 'ssh', ...at('-f'), '-S', '-w', range, command],
        env: { PDSH_SSH_ARGS_APPEND: sshF },
      },
      {
        tool: 'clush',
        parallelism,
        // --nostdin: do not forward our stdin to every host (clush would when it is a pipe);
        // --maxrc: exit with the largest remote exit status (clush's own is 0 otherwise).
        argv: ['clush', ...at('-f'), '--nostdin', '--maxrc', '-o', sshF, '-w', range, command],
        env: {},
      },
      {
        tool: 'ansible',
        parallelism,
        // ansible.cfg: inventory h[001:100], pipelining, gathering explicit, ssh -F ssh_config.
        // Exit status: 0 all ok, 2 some failed, 4 some unreachable.
        argv: ['ansible', hosts.join(','), ...at('--forks'), '-m', 'shell', '-a', command],
        env: { ANSIBLE_CONFIG },
      },
    );
  }
  return out;
}

function runScript(name: 'setup.sh' | 'teardown.sh'): void {
  try {
    execFileSync('bash', [join(PEERS_DIR, name)], { stdio: ['ignore', 'inherit', 'pipe'] });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: Buffer };
    const detail = e.stderr?.toString().trim();
    throw new Error(`bench/peers/${name} failed (exit ${e.status ?? '?'})${detail ? `:\n${detail}` : ''}`, {
      cause: err,
    });
  }
}

/** Runs setup.sh: installs what is missing, starts the loopback sshd, waits for it. */
export function setupPeers(): void {
  runScript('setup.sh');
}

/** Runs teardown.sh: stops the sshd, removes .state/ (installed packages stay). */
export function teardownPeers(): void {
  runScript('teardown.sh');
}

/** Installed versions: Debian package versions (and ssh's/ansible-core's own). */
export function peerVersions(): Record<string, string> {
  const pkgs: Record<string, string> = {
    openssh: 'openssh-server',
    pssh: 'pssh',
    pdsh: 'pdsh',
    clustershell: 'clustershell',
    ansible: 'ansible',
    'ansible-core': 'ansible-core',
  };
  const versions: Record<string, string> = {};
  for (const [key, pkg] of Object.entries(pkgs)) {
    try {
      versions[key] =
        execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim() || 'not installed';
    } catch {
      versions[key] = 'not installed';
    }
  }
  // "OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.x ..." (ssh -V writes it to stderr)
  const sshV = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  const sshVersion = `${sshV.stderr ?? ''}${sshV.stdout ?? ''}`.trim().split(',')[0];
  if (sshVersion) versions.openssh += ` (${sshVersion})`;
  return versions;
}

/** A peer's command line that copies one local file to every host. */
export interface PeerCopyCommand {
  tool: 'pdcp' | 'pscp' | 'clush --copy';
  argv: string[];
  env: Record<string, string>;
}

/**
 * The command lines that copy `src` to `dest` on h001..h<n>, one connection per host at once
 * (parallelism n, as Warren reaches every host at once): pdsh's `pdcp` (which runs `pdcp` on each
 * host too: here the same machine), pssh's `parallel-scp`, and `clush --copy`. Each exits 0 only
 * when every host got the file. Needs setupPeers() to have run.
 */
export function peerCopyCommands(n: number, src: string, dest: string): PeerCopyCommand[] {
  const hosts = peerHosts(n);
  const range = hostRange(n);
  const sshF = `-F ${SSH_CONFIG}`;
  return [
    {
      tool: 'pdcp',
      argv: ['pdcp', '-R', 'ssh', '-f', String(n), '-w', range, src, dest],
      env: { PDSH_SSH_ARGS_APPEND: sshF },
    },
    { tool: 'pscp', argv: ['parallel-scp', '-p', String(n), '-x', sshF, '-H', hosts.join(' '), src, dest], env: {} },
    {
      tool: 'clush --copy',
      argv: ['clush', '-f', String(n), '--nostdin', '-o', sshF, '-w', range, '--copy', src, '--dest', dest],
      env: {},
    },
  ];
}
