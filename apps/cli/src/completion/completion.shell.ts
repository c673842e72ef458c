import { allCommands, type CommandSpec, type OptionSpec, type ValueKind } from './completion.tree';

/** `text` as one single-quoted word for bash, zsh and POSIX sh. */
export function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A description cut to one short line, for a completion menu. */
export function short(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= 72 ? line : `${line.slice(0, 71)}…`;
}

/** A value kind as the scripts spell it: `hosts`, `file`, or `choices a b`; `+` ends a variadic one. */
export function kindWord(value: ValueKind, variadic = false): string {
  const word = value.kind === 'choices' ? `choices ${value.values.join(' ')}` : value.kind;
  return variadic ? `${word}+` : word;
}

const key = (c: CommandSpec) => c.path.join(' ');

/** A shell `case` on `$1` printing one line per command that has something to print. */
function caseOn(subject: string, rows: [string, string][], indent = '    '): string {
  const body = rows.map(([k, v]) => `${indent}${sq(k)}) echo ${sq(v)} ;;`).join('\n');
  return `  case ${subject} in\n${body}\n  esac`;
}

const optionNames = (o: OptionSpec[]) => o.flatMap((x) => x.names);

/**
 * The part of the bash and zsh scripts both run as they are: lookups generated from the tree
 * (subcommands, options, what an option's value and each argument are) and `__warren_where`, which
 * walks the words typed so far and sets `__warren_cmd` (the command path) and `__warren_what`
 * (`option`, `sub`, or the value kind of the word being completed).
 */
export function posixCore(tree: CommandSpec): string {
  const cmds = allCommands(tree);
  const subs = cmds
    .filter((c) => c.subcommands.length > 0)
    .map((c): [string, string] => [key(c), c.subcommands.map((s) => s.path[s.path.length - 1]).join(' ')]);
  const named = cmds.flatMap((c) =>
    c.subcommands.flatMap((sub) => {
      const name = sub.path[sub.path.length - 1];
      return [name, ...sub.aliases].map((word): [string, string] => [`${key(c)} ${word}`, name]);
    }),
  );
  const opts = cmds.map((c): [string, string] => [key(c), optionNames(c.options).join(' ')]);
  const values = cmds.flatMap((c) =>
    c.options.flatMap((o) =>
      o.value ? o.names.map((n): [string, string] => [`${key(c)} ${n}`, kindWord(o.value!, o.variadic)]) : [],
    ),
  );
  const args = cmds.flatMap((c) => c.args.map((a, i): [string, string] => [`${key(c)} ${i}`, kindWord(a)]));
  return `# The subcommands of a command path (words separated by one space; '' is warren itself).
__warren_subcommands() {
${caseOn('"$1"', subs)}
}

# "<path> <word>": the subcommand the word names there (by its name or an alias), if any.
__warren_sub() {
${caseOn('"$1 $2"', named)}
}

# The options accepted after a command path, its own and the global ones.
__warren_options() {
${caseOn('"$1"', opts)}
}

# "<path> <option>": what the option's value is (text, file, dir, hosts, tasks, choices …; a
# trailing + when every word up to the next option is a value); nothing for a flag.
__warren_value() {
${caseOn('"$1 $2"', values)}
}

# "<path> <n>": what the command's n-th argument (from 0) is.
__warren_arg() {
${caseOn('"$1 $2"', args)}
}

# __warren_where CURRENT-WORD TYPED-WORDS…: sets __warren_cmd and __warren_what.
__warren_where() {
  local cur=$1 w kind='' many='' n=0 sub
  shift
  __warren_cmd=''
  for w in "$@"; do
    if [[ -n $kind ]]; then
      kind=''
      continue
    fi
    case $w in
      --*=*) many='' ;;
      -*)
        kind=$(__warren_value "$__warren_cmd" "$w")
        many=''
        if [[ $kind == *+ ]]; then
          many=\${kind%+}
          kind=''
        fi
        ;;
      *)
        [[ -n $many ]] && continue
        sub=''
        [[ $n -eq 0 ]] && sub=$(__warren_sub "$__warren_cmd" "$w")
        if [[ -n $sub ]]; then
          __warren_cmd=\${__warren_cmd:+$__warren_cmd }$sub
        else
          n=$((n + 1))
        fi
        ;;
    esac
  done
  if [[ -n $kind ]]; then
    __warren_what=$kind
  elif [[ $cur == -* ]]; then
    __warren_what=option
  elif [[ -n $many ]]; then
    __warren_what=$many
  elif [[ $n -eq 0 && -n $(__warren_subcommands "$__warren_cmd") ]]; then
    __warren_what=sub
  else
    __warren_what=$(__warren_arg "$__warren_cmd" "$n")
    __warren_what=\${__warren_what:-text}
  fi
}`;
}

/**
 * zsh only: `__warren_described PATH option|sub` prints `name:description` lines for `_describe`,
 * so the menu shows what each command and flag does.
 */
export function zshDescribed(tree: CommandSpec): string {
  const item = (name: string, description: string) => sq(`${name.replace(/:/g, '\\:')}:${short(description)}`);
  const rows = allCommands(tree).flatMap((c): [string, string[]][] => [
    [`${key(c)} option`, c.options.flatMap((o) => o.names.map((n) => item(n, o.description)))],
    ...(c.subcommands.length > 0
      ? [
          [`${key(c)} sub`, c.subcommands.map((s) => item(s.path[s.path.length - 1], s.description))] as [
            string,
            string[],
          ],
        ]
      : []),
  ]);
  const body = rows.map(([k, items]) => `    ${sq(k)}) print -rl -- ${items.join(' ')} ;;`).join('\n');
  return `__warren_described() {\n  case "$1 $2" in\n${body}\n  esac\n}`;
}
