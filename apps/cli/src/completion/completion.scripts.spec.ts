import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPLETION_SHELLS, type CompletionShell } from './completion.scripts';
import {
  bashCompletes,
  dir,
  fishCompletes,
  lastArgs,
  program,
  run,
  scriptFile,
  syntaxError,
  zshCompletes,
} from './completion.shells.fixtures';

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Expected {
  path: string;
  subs: string[];
  flags: string[];
}

/**
 * Every command of the program (hidden `__…` ones aside) with its subcommands and every flag
 * accepted after it, read off commander's own tree here, so that a command or flag added to the
 * CLI is expected in the scripts without touching this test.
 */
function expectedTree(cmd: Command, path: string[] = [], inherited: string[] = []): Expected[] {
  const flags = cmd.options.flatMap((o) => [o.short, o.long]).filter((f): f is string => !!f);
  const globals = path.length === 0 ? flags.filter((f) => f !== '--version' && f !== '-V') : inherited;
  const visible = cmd.commands.filter((c) => !c.name().startsWith('__'));
  return [
    {
      path: path.join(' '),
      subs: visible.map((c) => c.name()),
      flags: [...new Set([...flags, ...(path.length === 0 ? [] : inherited), '--help', '-h'])],
    },
    ...visible.flatMap((c) => expectedTree(c, [...path, c.name()], globals)),
  ];
}

/** What each shell's lookups list for every path: `{ path: words }`, descriptions dropped. */
function listed(shell: CompletionShell, paths: string[]): Record<string, string[]> {
  const calls = paths.map((p) => `echo "@${p}"; __warren_options '${p}'; __warren_subcommands '${p}'`).join('\n');
  const out = run(shell, `source '${scriptFile(shell)}'\n${calls}`);
  const result: Record<string, string[]> = {};
  let at = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('@')) result[(at = line.slice(1))] = [];
    else result[at].push(...line.split('\t')[0].split(' ').filter(Boolean));
  }
  return result;
}

describe('warren completion scripts, read off the command tree', () => {
  const tree = expectedTree(program());

  it('walks a tree with the nested commands in it (a positive control for the walk)', () => {
    expect(tree.map((e) => e.path)).toEqual(expect.arrayContaining(['', 'run', 'hosts', 'hosts accept', 'completion']));
    expect(tree.find((e) => e.path === 'run')?.flags).toEqual(
      expect.arrayContaining(['--timeout', '--hosts', '--url']),
    );
  });

  it.each(COMPLETION_SHELLS)('%s: names every command, subcommand and flag of the program', (shell) => {
    const got = listed(
      shell,
      tree.map((e) => e.path),
    );
    for (const e of tree) {
      expect(got[e.path], e.path).toEqual(expect.arrayContaining([...e.flags, ...e.subs]));
    }
    expect(got['']).toContain('help');
    expect(got['']).not.toContain('__complete');
  });

  it.each(COMPLETION_SHELLS)('%s: the script passes the shell syntax check', (shell) => {
    expect(syntaxError(shell, scriptFile(shell))).toBe('');
  });

  it('completes a command added to the program, with its flag value asked of the controller', () => {
    const prog = program();
    prog.command('frobnicate').option('--zap <host>', 'a host');
    const file = scriptFile('bash', prog);
    expect(bashCompletes(['warren', 'frob'], file)).toEqual(['frobnicate']);
    expect(bashCompletes(['warren', 'frobnicate', '--zap', 'w'], file)).toEqual(['web1', 'web2']);
    expect(bashCompletes(['warren', 'frob'])).toEqual([]);
  });
});

describe('bash completion, driven through COMP_WORDS in bash --norc', () => {
  it('completes commands, subcommands and flags', () => {
    expect(bashCompletes(['warren', 'ru'])).toEqual(['run']);
    expect(bashCompletes(['warren', 'hosts', ''])).toEqual(['accept', 'keys', 'reject']);
    expect(bashCompletes(['warren', 'run', '--ti'])).toEqual(['--timeout']);
    expect(bashCompletes(['warren', 'hosts', 'accept', '--k'])).toEqual(['--key']);
    expect(bashCompletes(['warren', '--url', 'http://x', 'hosts', 'a'])).toEqual(['accept']);
  });

  it('completes fixed values: choices, the shells, help topics', () => {
    expect(bashCompletes(['warren', 'audit', '--decision', ''])).toEqual(['allowed', 'denied']);
    expect(bashCompletes(['warren', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    expect(bashCompletes(['warren', 'help', 'h'])).toEqual(['help', 'hosts']);
  });

  it('offers nothing for free text (the command of run, a duration)', () => {
    expect(bashCompletes(['warren', 'run', ''])).toEqual([]);
    expect(bashCompletes(['warren', 'run', '--timeout', ''])).toEqual([]);
  });

  it('asks warren __complete for host names after --hosts (every word up to the next flag) and hosts accept', () => {
    expect(bashCompletes(['warren', 'hosts', 'accept', ''])).toEqual(['db1', 'web1', 'web2']);
    expect(lastArgs()).toBe('__complete hosts -- hosts accept');
    expect(bashCompletes(['warren', 'run', 'uptime', '--hosts', 'web1', 'w'])).toEqual(['web1', 'web2']);
    expect(bashCompletes(['warren', '--url', 'http://ctl:7070', 'hosts', 'reject', 'd'])).toEqual(['db1']);
    expect(lastArgs()).toBe('__complete hosts -- --url http://ctl:7070 hosts reject');
    expect(bashCompletes(['warren', 'check', 'x', '--host', ''])).toEqual(['db1', 'web1', 'web2']);
  });

  it('joins what bash split at : and = (a URL typed on the line) before walking the words', () => {
    const line = ['warren', '--url', 'http://ctl:7070', 'hosts', 'reject', 'd'];
    const split = ['warren', '--url', 'http', ':', '//ctl', ':', '7070', 'hosts', 'reject', 'd'];
    expect(bashCompletes(line, undefined, split)).toEqual(['db1']);
    expect(lastArgs()).toBe('__complete hosts -- --url http://ctl:7070 hosts reject');
    const eq = ['warren', '--token=wrn_x', 'hosts', ''];
    expect(bashCompletes(eq, undefined, ['warren', '--token', '=', 'wrn_x', 'hosts', ''])).toEqual([
      'accept',
      'keys',
      'reject',
    ]);
  });

  it('asks for task ids for check (and its alias check_task), cancel, rerun and audit --task', () => {
    expect(bashCompletes(['warren', 'check_task', 't_ab'])).toEqual(['t_abc']);
    expect(bashCompletes(['warren', 'check_task', '--ho'])).toEqual(['--host']);
    expect(bashCompletes(['warren', 'check', 't_ab'])).toEqual(['t_abc']);
    expect(lastArgs()).toBe('__complete tasks -- check');
    expect(bashCompletes(['warren', 'cancel', ''])).toEqual(['t_aaa', 't_abc']);
    expect(bashCompletes(['warren', 'rerun', 't'])).toEqual(['t_aaa', 't_abc']);
    expect(bashCompletes(['warren', 'audit', '--task', ''])).toEqual(['t_aaa', 't_abc']);
  });

  it('completes file names for --ca', () => {
    expect(bashCompletes(['warren', '--ca', `${dir}/warren.ba`])).toEqual([`${dir}/warren.bash`]);
  });

  it('completes the file transfer commands: cp files and flags, fetch, run --stdin', () => {
    expect(bashCompletes(['warren', 'fe'])).toEqual(['fetch']);
    expect(bashCompletes(['warren', 'cp', `${dir}/warren.ba`])).toEqual([`${dir}/warren.bash`]);
    expect(bashCompletes(['warren', 'cp', 'x', '--des'])).toEqual(['--dest']);
    expect(bashCompletes(['warren', 'cp', 'x', '--mk'])).toEqual(['--mkdir']);
    expect(bashCompletes(['warren', 'fetch', '/etc/x', '--max'])).toEqual(['--max-errors', '--max-size']);
    expect(bashCompletes(['warren', 'run', 'x', '--stdin', `${dir}/warren.ba`])).toEqual([`${dir}/warren.bash`]);
  });
});

describe('zsh completion (compadd stood in for)', () => {
  it('completes commands, subcommands, flags and values', () => {
    expect(zshCompletes(['warren', 'ru'])).toEqual(['run']);
    expect(zshCompletes(['warren', 'hosts', ''])).toEqual(['accept', 'keys', 'reject']);
    expect(zshCompletes(['warren', 'run', '--ti'])).toEqual(['--timeout']);
    expect(zshCompletes(['warren', 'audit', '--decision', ''])).toEqual(['allowed', 'denied']);
    expect(zshCompletes(['warren', '--ca', ''])).toEqual(['(files)']);
    expect(zshCompletes(['warren', 'cp', ''])).toEqual(['(files)']);
    expect(zshCompletes(['warren', 'cp', 'x', '--ow'])).toEqual(['--owner']);
    expect(zshCompletes(['warren', 'fetch', '/etc/x', '--dest', ''])).toEqual(['(files-/)']);
    expect(zshCompletes(['warren', 'run', 'x', '--stdin', ''])).toEqual(['(files)']);
  });

  it('asks warren __complete for host names and task ids', () => {
    expect(zshCompletes(['warren', 'run', 'x', '--hosts', 'w'])).toEqual(['web1', 'web2']);
    expect(lastArgs()).toBe('__complete hosts -- run x --hosts');
    expect(zshCompletes(['warren', 'check', ''])).toEqual(['t_aaa', 't_abc']);
    expect(zshCompletes(['warren', 'check_task', 't_ab'])).toEqual(['t_abc']);
  });
});

describe('fish completion (complete -C)', () => {
  it('completes commands, subcommands, flags and values', () => {
    expect(fishCompletes('warren ru')).toEqual(['run']);
    expect(fishCompletes('warren hosts ')).toEqual(['accept', 'keys', 'reject']);
    expect(fishCompletes('warren run --ti')).toEqual(['--timeout']);
    expect(fishCompletes('warren audit --decision ')).toEqual(['allowed', 'denied']);
    expect(fishCompletes('warren fe')).toEqual(['fetch']);
    expect(fishCompletes('warren cp x --mo')).toEqual(['--mode']);
    expect(fishCompletes('warren run x --std')).toEqual(['--stdin']);
  });

  it('asks warren __complete for host names and task ids', () => {
    expect(fishCompletes('warren hosts accept w')).toEqual(['web1', 'web2']);
    expect(lastArgs()).toBe('__complete hosts -- hosts accept');
    expect(fishCompletes('warren run x --hosts web1 d')).toEqual(['db1']);
    expect(fishCompletes('warren cancel t_ab')).toEqual(['t_abc']);
    expect(fishCompletes('warren check_task t_ab')).toEqual(['t_abc']);
  });
});
