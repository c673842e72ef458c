import { describe, expect, it } from 'vitest';
import { UsageError } from '../cli.errors';
import type { CreateTaskRequest, DryRunAnswer } from '@warren/api';
import type { ControllerClient } from '../http/controller.client';
import type { CommandContext } from './command.context';
import type { Confirmer } from './confirm.prompt';
import { applyTargeting, settleTarget } from './targeting';

function setup(count: number, env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '', exit: -1 };
  const previews: CreateTaskRequest[] = [];
  const hosts = Array.from({ length: count }, (_, i) => `web${String(i + 1).padStart(3, '0')}`);
  const answer: DryRunAnswer = {
    dryRun: true,
    hosts,
    count,
    folded: count > 0 ? `web[001-${String(count).padStart(3, '0')}]` : '',
    excluded: [{ host: 'web999', reason: 'offline' }],
    unmatched: [],
    concurrency: null,
    maxErrors: null,
  };
  const client = {
    previewTask: async (b: CreateTaskRequest) => (previews.push(b), answer),
  } as unknown as ControllerClient;
  const ctx = {
    io: {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env,
    },
    setExit: (c: number) => void (out.exit = c),
  } as unknown as CommandContext;
  return { out, previews, client, ctx };
}

const asker = (answer: boolean, interactive = true) => {
  const asked: string[] = [];
  const c: Confirmer = { interactive, ask: async (q) => (asked.push(q), answer) };
  return { c, asked };
};

describe('settleTarget', () => {
  it('prints a dry run folded and counted with what was left out, and sends nothing', async () => {
    const { out, client, ctx } = setup(6);
    const body = await settleTarget(ctx, client, { command: 'uptime', hosts: ['web*'] }, { dryRun: true });
    expect(body).toBeNull();
    expect(out.stdout).toBe('6 hosts: web[001-006]\nleft out (offline): web999\n');
    expect(out.exit).toBe(0);
  });

  it('asks the terminal before more than the threshold, and runs on exactly the hosts shown', async () => {
    const { client, ctx, out } = setup(120);
    const { c, asked } = asker(true);
    const body = await settleTarget(ctx, client, { command: 'reboot', hosts: ['web*'], labels: ['zone=eu'] }, {}, c);
    expect(asked).toEqual(['Run "reboot" on 120 hosts (web[001-120])? [y/N] ']);
    expect(body).toEqual({ command: 'reboot', hosts: expect.arrayContaining(['web001', 'web120']) });
    expect(body!.hosts).toHaveLength(120);
    expect(out.stderr).toContain('left out 1 matching host (offline): web999');
  });

  it('does not run when the answer is no (exit 2)', async () => {
    const { client, ctx, out } = setup(51);
    expect(await settleTarget(ctx, client, { command: 'x', all: true }, {}, asker(false).c)).toBeNull();
    expect(out.exit).toBe(2);
    expect(out.stderr).toContain('not run');
  });

  it('refuses a large run without a terminal unless --yes, instead of waiting for an answer', async () => {
    const { client, ctx, previews } = setup(51);
    const err = await settleTarget(ctx, client, { command: 'x', all: true }, {}, asker(true, false).c).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(
      /would reach 51 hosts \(web\[001-051\]\), more than 50, and there is no terminal to confirm it; add --yes/,
    );
    const sent = await settleTarget(ctx, client, { command: 'x', all: true }, { yes: true }, asker(false, false).c);
    expect(sent).toEqual({ command: 'x', all: true });
    expect(previews).toHaveLength(1); // --yes asks the controller nothing first
  });

  it('counts named hosts and ranges itself, and asks the controller only when it cannot tell', async () => {
    const { client, ctx, previews } = setup(3);
    const never = asker(false, false).c;
    expect(await settleTarget(ctx, client, { command: 'x', hosts: ['web[001-050]'] }, {}, never)).toEqual({
      command: 'x',
      hosts: ['web[001-050]'],
    });
    expect(previews).toEqual([]);
    // Over the threshold as written: the controller's count decides (3 here), and those hosts are sent.
    expect(await settleTarget(ctx, client, { command: 'x', hosts: ['web[001-051]'] }, {}, never)).toEqual({
      command: 'x',
      hosts: ['web001', 'web002', 'web003'],
    });
    expect(previews).toHaveLength(1);
  });

  it('takes the threshold from --confirm-over, else WARREN_CONFIRM_OVER', async () => {
    const { client, ctx } = setup(5, { WARREN_CONFIRM_OVER: '4' });
    await expect(settleTarget(ctx, client, { command: 'x', all: true }, {}, asker(true, false).c)).rejects.toThrow(
      /more than 4/,
    );
    await expect(
      settleTarget(ctx, client, { command: 'x', all: true }, { confirmOver: 5 }, asker(true, false).c),
    ).resolves.toMatchObject({ hosts: expect.any(Array) });
  });
});

describe('applyTargeting', () => {
  it('needs a target, and --max-errors needs --concurrency', () => {
    expect(() => applyTargeting({ command: 'x' }, {})).toThrow(/--hosts, --label key=value, or --all/);
    expect(() => applyTargeting({ command: 'x', hosts: ['a'] }, { all: true })).toThrow(
      /--all cannot be combined with --hosts/,
    );
    expect(() => applyTargeting({ command: 'x', hosts: ['a'] }, { maxErrors: 1 })).toThrow(
      /--max-errors needs --concurrency/,
    );
    expect(applyTargeting({ command: 'x' }, { label: ['a=b'], all: true, concurrency: '10%', maxErrors: 0 })).toEqual({
      command: 'x',
      labels: ['a=b'],
      all: true,
      concurrency: '10%',
      maxErrors: 0,
    });
  });
});
