import { type Command, InvalidArgumentError, Option } from 'commander';

/** What `warren-controller` was asked to do: run the server (the default) or one maintenance command. */
export type ControllerAction =
  | { command: 'serve' }
  | { command: 'token create'; name: string; role: 'admin' | 'operator' | 'viewer'; hosts: string[] | null }
  | { command: 'token list'; json: boolean }
  | { command: 'token revoke'; name: string }
  | { command: 'keygen'; out: string | null }
  | { command: 'openapi'; out: string | null }
  | { command: 'migrate'; dryRun: boolean }
  | { command: 'db copy'; from: string; to: string };

const HELP_AFTER = `
Without a command, or with "serve", the controller runs (the options above configure it).
The token, keygen and migrate commands use --state-dir / --db / --key like the server, and work
while it runs. --db is a SQLite file or a postgres:// URL. Examples:
  warren-controller --port 7070 --state-dir /var/lib/warren
  warren-controller token create --name alice --role operator --hosts 'web*' 'db[1-3]' > alice.token
  warren-controller token list
  warren-controller token revoke alice
  warren-controller keygen --out /etc/warren/controller.key
  warren-controller openapi --out docs/openapi.json
  warren-controller migrate --dry-run
  warren-controller db copy --from ~/.warren/controller.db --to postgres://warren@db1/warren
`;

function nonEmpty(flag: string) {
  return (v: string) => {
    if (v.trim() === '') throw new InvalidArgumentError(`${flag}: must not be empty`);
    return v;
  };
}

/** Accepts a `postgres://` or `postgresql://` URL only. */
function postgresUrl(flag: string) {
  return (v: string) => {
    if (!/^postgres(ql)?:\/\//i.test(v)) throw new InvalidArgumentError(`${flag}: must be a postgres:// URL`);
    return v;
  };
}

/**
 * Adds `serve` (default), `token create|list|revoke`, `keygen`, `openapi`, `migrate` and `db copy` to the controller's program. Each
 * action only reports what was asked through `onAction`: the caller loads the configuration and
 * carries it out, so that parsing stays free of side effects (and testable).
 */
export function addControllerSubcommands(program: Command, onAction: (a: ControllerAction) => void): Command {
  program.addHelpText('after', HELP_AFTER);
  program
    .command('serve', { isDefault: true })
    .description('run the controller: HTTP API, dispatcher, result store (the default)')
    .action(() => onAction({ command: 'serve' }));

  const token = program
    .command('token')
    .description('manage API tokens (every HTTP endpoint but /healthz and /v1/openapi.json needs one)')
    .addHelpText(
      'after',
      `
Roles: viewer (read tasks and hosts), operator (also run and cancel tasks), admin (everything,
including the audit log and accepting host keys). --hosts limits a token to hosts matching any of
its patterns: globs (web*, db?) and ranges (web[01-20], db[1-3,7]).`,
    )
    .action(() => {
      throw new Error('token: expected a command: create, list or revoke (see warren-controller token --help)');
    });
  token
    .command('create')
    .description('create a token; prints it once on stdout (only its hash is kept)')
    .requiredOption('--name <name>', 'unique name, shown as the actor in the audit log', nonEmpty('--name'))
    .addOption(
      new Option('--role <role>', 'what the token may do')
        .choices(['admin', 'operator', 'viewer'])
        .makeOptionMandatory(),
    )
    .option('--hosts <pattern...>', 'limit the token to hosts matching these patterns (default: every host)')
    .action((o: { name: string; role: 'admin' | 'operator' | 'viewer'; hosts?: string[] }) =>
      onAction({ command: 'token create', name: o.name, role: o.role, hosts: o.hosts ?? null }),
    );
  token
    .command('list')
    .description('list tokens (names, roles, host patterns, times; never secrets)')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => onAction({ command: 'token list', json: o.json === true }));
  token
    .command('revoke')
    .description('revoke a token by name; requests with it get 401 from then on')
    .argument('<name>', 'the token name')
    .action((name: string) => onAction({ command: 'token revoke', name }));

  program
    .command('keygen')
    .description('write a new Ed25519 command-signing key pair (refuses to overwrite)')
    .option(
      '--out <file>',
      'private key file; the public key goes next to it as .pub (default: --key, i.e. <state-dir>/controller.key)',
    )
    .action((o: { out?: string }) => onAction({ command: 'keygen', out: o.out ?? null }));

  program
    .command('openapi')
    .description('print the OpenAPI 3.1 document of the HTTP API (as GET /v1/openapi.json serves it); starts nothing')
    .option('--out <file>', 'write it to this file instead of stdout', nonEmpty('--out'))
    .addHelpText(
      'after',
      `
The document follows the other options as the server would (e.g. --metrics-public makes /metrics
public in it). Exit status: 0 written; 1 refused (a route without documentation, or the file cannot
be written); 2 bad arguments. docs/openapi.json is this, with the defaults (npm run openapi).`,
    )
    .action((o: { out?: string }) => onAction({ command: 'openapi', out: o.out ?? null }));

  program
    .command('migrate')
    .description('bring the --db database (SQLite file or postgres:// URL) to the newest schema version')
    .option('--dry-run', 'print the version and what would be applied; change nothing')
    .addHelpText(
      'after',
      `
Prints the version the database is at and each migration applied. The server applies them at start
too; this runs them ahead (e.g. before starting several controllers). Exit status: 0 done (or
nothing to do); 1 refused: the database is newer than this warren-controller, a migration failed
(rolled back), or PostgreSQL cannot be reached; 2 bad arguments. See docs/database.md.`,
    )
    .action((o: { dryRun?: boolean }) => onAction({ command: 'migrate', dryRun: o.dryRun === true }));

  const db = program
    .command('db')
    .description('move an installation between databases (see docs/database.md)')
    .action(() => {
      throw new Error('db: expected a command: copy (see warren-controller db copy --help)');
    });
  db.command('copy')
    .description("copy a SQLite file's tasks, tokens, host keys, presence and audit into an empty PostgreSQL database")
    .requiredOption(
      '--from <file>',
      'the SQLite file (read only; at the newest version: migrate it first)',
      nonEmpty('--from'),
    )
    .requiredOption(
      '--to <url>',
      'the PostgreSQL database (postgres://…), migrated first; its tables must be empty',
      postgresUrl('--to'),
    )
    .addHelpText(
      'after',
      `
Everything is copied in one transaction: all of it, or nothing. Prints the rows copied per table.
Exit status: 0 copied; 1 refused (the file is missing or not at the newest schema version, the
target already holds rows or cannot be reached); 2 bad arguments.`,
    )
    .action((o: { from: string; to: string }) => onAction({ command: 'db copy', from: o.from, to: o.to }));
  return program;
}

/** Applies `fn` to a command and every subcommand below it. */
export function eachCommand(cmd: Command, fn: (c: Command) => void): void {
  fn(cmd);
  for (const sub of cmd.commands) eachCommand(sub, fn);
}
