import { short } from './completion.shell';
import { allCommands, type CommandSpec } from './completion.tree';
import { kindWord } from './completion.shell';

/** `text` as one single-quoted fish word. */
function fq(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A fish `switch` on `$argv[1]` whose cases print `lines`. */
function switchOn(rows: [string, string[]][]): string {
  const cases = rows
    .map(([k, lines]) => `        case ${fq(k)}\n${lines.map((l) => `            ${l}`).join('\n')}`)
    .join('\n');
  return `    switch "$argv[1]"\n${cases}\n    end`;
}

const described = (name: string, description: string) => `printf '%s\\t%s\\n' ${fq(name)} ${fq(short(description))}`;

/**
 * The fish script: lookups generated from the tree, and `__warren_complete`, which walks the
 * typed tokens as the bash and zsh scripts do and prints the candidates with their descriptions.
 */
export function fishScript(tree: CommandSpec, header: string): string {
  const cmds = allCommands(tree);
  const key = (c: CommandSpec) => c.path.join(' ');
  const subs = cmds
    .filter((c) => c.subcommands.length > 0)
    .map((c): [string, string[]] => [
      key(c),
      c.subcommands.map((s) => described(s.path[s.path.length - 1], s.description)),
    ]);
  const named = cmds.flatMap((c) =>
    c.subcommands.flatMap((sub) => {
      const name = sub.path[sub.path.length - 1];
      return [name, ...sub.aliases].map((word): [string, string[]] => [`${key(c)} ${word}`, [`echo ${fq(name)}`]]);
    }),
  );
  const opts = cmds.map((c): [string, string[]] => [
    key(c),
    c.options.flatMap((o) => o.names.map((n) => described(n, o.description))),
  ]);
  const values = cmds.flatMap((c) =>
    c.options.flatMap((o) =>
      o.value
        ? o.names.map((n): [string, string[]] => [`${key(c)} ${n}`, [`echo ${fq(kindWord(o.value!, o.variadic))}`]])
        : [],
    ),
  );
  const args = cmds.flatMap((c) =>
    c.args.map((a, i): [string, string[]] => [`${key(c)} ${i}`, [`echo ${fq(kindWord(a))}`]]),
  );
  return `${header}
function __warren_subcommands
${switchOn(subs)}
end

function __warren_sub
${switchOn(named)}
end

function __warren_options
${switchOn(opts)}
end

function __warren_value
${switchOn(values)}
end

function __warren_arg
${switchOn(args)}
end

function __warren_complete
    set -l typed (commandline -opc)
    set -e typed[1]
    set -l cur (commandline -ct)
    set -l cmd ''
    set -l kind ''
    set -l many ''
    set -l n 0
    for w in $typed
        if test -n "$kind"
            set kind ''
            continue
        end
        switch "$w"
            case '--*=*'
                set many ''
            case '-*'
                set kind (__warren_value "$cmd $w")
                set many ''
                if string match -q -- '*+' "$kind"
                    set many (string replace -r '\\+$' '' -- $kind)
                    set kind ''
                end
            case '*'
                test -n "$many"; and continue
                set -l sub
                test $n -eq 0; and set sub (__warren_sub "$cmd $w")
                if test -n "$sub"
                    set cmd (string trim -- "$cmd $sub")
                else
                    set n (math $n + 1)
                end
        end
    end
    set -l subs (__warren_subcommands "$cmd")
    set -l what
    if test -n "$kind"
        set what (string split ' ' -- $kind)
    else if string match -q -- '-*' "$cur"
        set what option
    else if test -n "$many"
        set what $many
    else if test $n -eq 0; and set -q subs[1]
        set what sub
    else
        set what (string split ' ' -- (__warren_arg "$cmd $n"))
    end
    switch "$what[1]"
        case option
            __warren_options "$cmd"
        case sub
            printf '%s\\n' $subs
        case choices
            printf '%s\\n' $what[2..-1]
        case file
            __fish_complete_path "$cur"
        case dir
            __fish_complete_directories "$cur"
        case hosts tasks
            warren __complete $what[1] -- $typed 2>/dev/null
    end
end

complete -c warren -e
complete -c warren -f -a '(__warren_complete)'
`;
}
