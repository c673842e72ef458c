import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseDurationMs } from '@warren/api';
import { describe, expect, it } from 'vitest';
import { AGENT_OPTIONS } from './agent.program';

/** docs/examples/warren-agent.service, installed as /etc/systemd/system/warren-agent.service */
const UNIT_FILE = resolve(__dirname, '../../../../docs/examples/warren-agent.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
/** the host's own unit library, copied into the verify root (verify loads sysinit.target & co. from it) */
const SYSTEM_UNITS = '/usr/lib/systemd/system';

/** `Key=value` lines of a unit file by section (`[Service]` → `Delegate` → every value given). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0 || current === undefined) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/**
 * Runs `systemd-analyze verify` offline on `unitText` installed in a throwaway root holding the
 * host's unit library, the unit, and an executable stand-in for its ExecStart. Returns its exit
 * status and what it printed (warnings about the unit go to stderr with status 0).
 */
function verify(unitText: string): { status: number | null; output: string } {
  const root = mkdtempSync(join(tmpdir(), 'warren-unit-root-'));
  mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
  cpSync(SYSTEM_UNITS, join(root, SYSTEM_UNITS), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
  writeFileSync(join(root, 'etc/systemd/system/warren-agent.service'), unitText);
  const execStart = parseUnit(unitText).get('Service')?.get('ExecStart')?.[0]?.split(' ')[0];
  if (execStart?.startsWith('/')) {
    mkdirSync(join(root, dirname(execStart)), { recursive: true });
    writeFileSync(join(root, execStart), '#!/bin/sh\n');
    chmodSync(join(root, execStart), 0o755);
  }
  const r = spawnSync(SYSTEMD_ANALYZE, ['verify', `--root=${root}`, '--man=no', 'warren-agent.service'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const text = readFileSync(UNIT_FILE, 'utf8');
const service = parseUnit(text).get('Service')!;
const one = (key: string): string | undefined => service.get(key)?.at(-1);

describe('docs/examples/warren-agent.service', () => {
  it('passes systemd-analyze verify with no warning', () => {
    expect(existsSync(SYSTEMD_ANALYZE), `${SYSTEMD_ANALYZE} is needed to check the unit`).toBe(true);
    expect(verify(text)).toEqual({ status: 0, output: '' });
  });

  it('is a check that fails: verify reports a bad Restart= value, an unknown key and a missing ExecStart binary', () => {
    const bad = verify(text.replace(/^Restart=.*$/m, 'Restart=sometimes').replace('[Install]', 'Bogus=1\n[Install]'));
    expect(bad.output).toMatch(/restart specifier.*sometimes/);
    expect(bad.output).toMatch(/Unknown key 'Bogus'/);
    const missing = verify(text.replace(/^ExecStart=.*$/m, 'ExecStart=nowhere'));
    expect(missing).toEqual({ status: 1, output: expect.stringMatching(/Command nowhere is not executable/) });
  });

  it('restarts the agent on failure, but not after a configuration error (exit 2)', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('2');
  });

  it('delegates its cgroup subtree, so the agent can make a cgroup per command', () => {
    expect(one('Delegate')).toBe('yes');
    // A read-only /sys/fs/cgroup would make it fall back to process groups.
    expect(service.has('ProtectControlGroups')).toBe(false);
  });

  it('reads /etc/warren/agent.env and runs the agent as root, so it can switch to run-as users', () => {
    expect(service.get('EnvironmentFile')).toEqual(['/etc/warren/agent.env']);
    expect(one('User') ?? 'root').toBe('root');
    expect(one('ExecStart')).toBe('/usr/local/bin/warren-agent');
  });

  it('leaves out the sandboxing that would break commands as their run-as user (sudo, /tmp, writes, Node)', () => {
    for (const key of [
      'NoNewPrivileges',
      'ProtectSystem',
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'CapabilityBoundingSet',
      'RestrictSUIDSGID',
      'MemoryDenyWriteExecute',
      'SystemCallFilter',
      'PrivateNetwork',
      'ReadOnlyPaths',
    ])
      expect({ [key]: service.get(key) }).toEqual({ [key]: undefined });
  });

  it('lets running commands finish for the shutdown grace on stop, and survives an OOM-killed command', () => {
    expect(one('KillMode')).toBe('mixed');
    const stopMs = parseDurationMs(one('TimeoutStopSec')!);
    expect(stopMs).toBeGreaterThan(parseDurationMs(AGENT_OPTIONS.shutdownGrace.default)!);
    expect(one('OOMPolicy')).toBe('continue');
  });
});
