import type { Argument, Command, Option } from 'commander';

/**
 * What a value typed at one place on the command line may be completed with: nothing (free text
 * such as the command of `warren run`), fixed words, file or directory names, or names asked of
 * the controller (`hosts`, `tasks`: see `warren __complete`).
 */
export type ValueKind =
  | { kind: 'text' }
  | { kind: 'choices'; values: string[] }
  | { kind: 'file' }
  | { kind: 'dir' }
  | { kind: 'hosts' }
  | { kind: 'tasks' };

/** One option as completion sees it. */
export interface OptionSpec {
  /** `--timeout`, or `-h` then `--help` */
  names: string[];
  description: string;
  /** what its value completes with; absent: a flag that takes no value */
  value?: ValueKind;
  /** true for `--hosts <host...>`: every word after it up to the next option is a value */
  variadic: boolean;
}

/** One command (the program itself has the empty path) with what may follow it. */
export interface CommandSpec {
  /** `[]` for the program, `['hosts', 'accept']` for `warren hosts accept` */
  path: string[];
  /** other names it answers to (`check_task` for `check`) */
  aliases: string[];
  description: string;
  /** its own options and the program's global ones (`--url` is accepted after any command) */
  options: OptionSpec[];
  /** its positional arguments in order; the last may be variadic */
  args: ValueKind[];
  subcommands: CommandSpec[];
}

/** The value kind a placeholder name implies: `<host>`/`<hosts...>` are hosts, `<task-id>` a task. */
function kindOfPlaceholder(name: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length > 0) return { kind: 'choices', values: [...choices] };
  if (/^hosts?$/.test(name)) return { kind: 'hosts' };
  if (name === 'task-id') return { kind: 'tasks' };
  if (name === 'file') return { kind: 'file' };
  if (name === 'dir') return { kind: 'dir' };
  return { kind: 'text' };
}

function optionSpec(o: Option): OptionSpec {
  const names = [o.short, o.long].filter((n): n is string => typeof n === 'string');
  const takesValue = o.required || o.optional;
  const placeholder = /[<[]([^>\]]+?)(?:\.\.\.)?[>\]]/.exec(o.flags)?.[1] ?? '';
  return {
    names,
    description: o.description,
    ...(takesValue ? { value: kindOfPlaceholder(placeholder, o.argChoices) } : {}),
    variadic: o.variadic,
  };
}

function argSpec(a: Argument): ValueKind {
  return kindOfPlaceholder(a.name(), a.argChoices);
}

/**
 * Reads the completion tree off a commander program: every visible command and subcommand (hidden
 * ones such as `__complete` are left out, `help` is in), each with the options its `--help` lists
 * and the program's global options. Nothing is listed by hand, so a new command or flag is
 * completed as soon as it is registered.
 */
export function completionTree(program: Command): CommandSpec {
  const help = program.createHelp();
  const globals = help
    .visibleOptions(program)
    .filter((o) => o.long !== '--help' && o.long !== '--version')
    .map(optionSpec);
  const topNames = help.visibleCommands(program).map((c) => c.name());
  const walk = (cmd: Command, path: string[]): CommandSpec => {
    const own = help.visibleOptions(cmd).map(optionSpec);
    const isHelp = path.length === 1 && cmd.name() === 'help' && !program.commands.includes(cmd);
    return {
      path,
      aliases: cmd.aliases(),
      description: cmd.description(),
      options: path.length === 0 ? own : [...own, ...globals],
      // `warren help <command>` completes the top-level command names.
      args: isHelp ? [{ kind: 'choices', values: topNames }] : cmd.registeredArguments.map(argSpec),
      subcommands: help.visibleCommands(cmd).map((c) => walk(c, [...path, c.name()])),
    };
  };
  return walk(program, []);
}

/** Every command of the tree, the program first, parents before their subcommands. */
export function allCommands(tree: CommandSpec): CommandSpec[] {
  return [tree, ...tree.subcommands.flatMap(allCommands)];
}
