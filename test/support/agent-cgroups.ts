import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findCgroup2Mount, ownCgroupPath } from '../../apps/agent/src/exec/cgroup.tracker';

/**
 * The cgroup directory under which agents started by this process make theirs
 * (`warren.<namespace>.<host>`, in the cgroup they inherit from us); null without cgroup v2.
 */
export function agentCgroupParent(): string | null {
  const mount = findCgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
  const own = ownCgroupPath(readFileSync('/proc/self/cgroup', 'utf8'));
  return mount && own !== null ? join(mount, own) : null;
}

/**
 * Kills whatever is left in the cgroups of namespace `ns`'s agents and removes them: a test tears
 * its agents down with SIGKILL, which leaves their run cgroups (and any command still running) behind.
 */
export async function removeAgentCgroups(ns: string): Promise<void> {
  const parent = agentCgroupParent();
  if (!parent) return;
  const agents = readdirSync(parent).filter((n) => n.startsWith(`warren.${ns}.`));
  for (const agent of agents) {
    const dir = join(parent, agent);
    const runs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
    for (const run of runs) {
      try {
        writeFileSync(join(dir, run.name, 'cgroup.kill'), '1');
      } catch {
        // gone already
      }
    }
    for (const path of [...runs.map((r) => join(dir, r.name)), dir]) {
      for (let tries = 0; ; tries++) {
        try {
          rmdirSync(path);
          break;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || tries >= 50) break;
          await new Promise((r) => setTimeout(r, 20)); // EBUSY while the killed processes exit
        }
      }
    }
  }
}
