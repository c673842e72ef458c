import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

/**
 * A real agent's allow list pins arguments with `{name}`: the word it stands for may not be an
 * option, so `systemctl status {unit}` lets no one slip `-H user@host` (which runs ssh) past it,
 * where `systemctl status *` would.
 */
describe('policy: an allow glob pins an argument with {name}', () => {
  const w = new Warren();

  beforeAll(async () => {
    const policy = join(w.dir, 'pinned-policy.yaml');
    // allowRoot: the tests run as root, as a lab agent does; the allow list is what is under test.
    writeFileSync(policy, 'allowRoot: true\nallow:\n  - "systemctl status {unit}"\n  - "echo {word}"\n');
    await w.startController();
    await w.startAgent('p1', {}, ['--policy', policy]);
  }, 60_000);
  afterAll(() => w.teardown());

  it('`systemctl status {unit}` lets `systemctl status nginx` run and rejects `-H user@host`, quoted or not', async () => {
    const plain = await w.runAndWait({ command: 'systemctl status nginx', hosts: ['p1'] });
    // It ran (whatever systemctl says on this machine, or that it is missing): the policy let it through.
    expect(plain.results[0].state).not.toBe('rejected');
    expect(plain.results[0].startedAt).not.toBeNull();
    for (const command of ['systemctl status -H user@host', 'systemctl status "-H" user@host']) {
      const task = await w.runAndWait({ command, hosts: ['p1'] });
      expect(task.results[0]).toMatchObject({
        host: 'p1',
        state: 'rejected',
        reason: 'policy: command matches no allow pattern',
      });
    }
  });

  it('`echo {word}` runs `echo nginx` and rejects `echo -e nginx`', async () => {
    const task = await w.runAndWait({ command: 'echo nginx', hosts: ['p1'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: 'nginx\n' });
    const option = await w.runAndWait({ command: 'echo -e nginx', hosts: ['p1'] });
    expect(option.results[0]).toMatchObject({ state: 'rejected', reason: 'policy: command matches no allow pattern' });
  });
});
