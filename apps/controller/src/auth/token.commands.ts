import { userInfo } from 'node:os';
import { formatColumns, HostPatternError } from '@warren/api';
import { type Clock, SystemClock } from '@warren/runtime';
import type { ControllerConfig } from '../config/controller.config';
import type { ControllerAction } from '../config/controller.subcommands';
import { runDatabaseCommand } from '../store/database.commands';
import { migrateDatabase } from '../store/migrations/migrate-database';
import { isPostgresUrl } from '../store/postgres/pg.database';
import { openStores } from '../store/stores';
import { validateHostPatterns } from './host-patterns';
import { TokenError } from '../errors/errors';
import type { TokenInfo } from './token-store.port';
import { TokenService } from './token.service';

/** Where a maintenance command writes: stdout for what scripts capture, stderr for people. */
export interface CommandIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** The local user running the command, as the audit log's actor: `local:<name>`. */
export function localActor(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    // No passwd entry for this uid (some containers): the uid still says who.
    return `local:uid ${process.getuid?.() ?? '?'}`;
  }
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function tokenTable(tokens: TokenInfo[]): string {
  const rows = [
    ['NAME', 'ROLE', 'HOSTS', 'CREATED', 'LAST USED', 'REVOKED'],
    ...tokens.map((t) => [
      t.name,
      t.role,
      t.hostPatterns?.join(' ') ?? '*',
      iso(t.createdAt),
      iso(t.lastUsedAt),
      iso(t.revokedAt),
    ]),
  ];
  return formatColumns(rows).join('\n') + '\n';
}

/**
 * Carries out `token create|list|revoke` against the controller's state; returns the exit status
 * (0 done, 1 refused: a name taken or unknown, a bad pattern). `migrate` and `db copy` are
 * {@link runDatabaseCommand}'s.
 * Token changes are audit records with the local user as actor, stamped by `clock`.
 */
export async function runMaintenanceCommand(
  action: Exclude<ControllerAction, { command: 'serve' | 'keygen' | 'openapi' }>,
  config: ControllerConfig,
  io: CommandIo,
  actor = localActor(),
  clock: Clock = new SystemClock(),
): Promise<number> {
  const fail = (message: string) => {
    io.stderr.write(`warren-controller: ${message}\n`);
    return 1;
  };
  if (action.command === 'migrate' || action.command === 'db copy')
    return runDatabaseCommand(action, config, io, clock);
  // A SQLite file is migrated as it opens; PostgreSQL first, as the server does at start.
  if (isPostgresUrl(config.dbPath)) await migrateDatabase(config.dbPath, { clock });
  const stores = await openStores(config.dbPath, { clock });
  try {
    const tokens = new TokenService(stores.tokens, clock);
    const audit = stores.audit;
    const record = (
      act: string,
      decision: 'allowed' | 'denied',
      detail: Record<string, unknown>,
      reason: string | null = null,
    ) => audit.record({ actor, source: 'local', action: act, decision, reason, detail });
    switch (action.command) {
      case 'token create': {
        const detail = { name: action.name, role: action.role, hostPatterns: action.hosts };
        try {
          const patterns = action.hosts === null ? null : validateHostPatterns(action.hosts);
          const { text, token } = await tokens.create(action.name, action.role, patterns);
          await record('token.create', 'allowed', { ...detail, hostPatterns: patterns, tokenId: token.id });
          io.stdout.write(`${text}\n`);
          const scope = patterns === null ? 'every host' : `hosts matching ${patterns.join(' ')}`;
          io.stderr.write(
            `created token ${JSON.stringify(token.name)} (role ${token.role}, ${scope}). It is shown only this once and cannot be recovered: store it now, e.g. in ~/.warren/token (mode 0600) or WARREN_TOKEN.\n`,
          );
          return 0;
        } catch (err) {
          if (!(err instanceof TokenError || err instanceof HostPatternError)) throw err;
          await record('token.create', 'denied', detail, err.message);
          return fail(err.message);
        }
      }
      case 'token list': {
        const list = await tokens.list();
        if (action.json)
          io.stdout.write(
            `${JSON.stringify({ tokens: list.map((t) => ({ ...t, createdAt: iso(t.createdAt), lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt), revokedAt: t.revokedAt === null ? null : iso(t.revokedAt) })) }, null, 2)}\n`,
          );
        else if (list.length === 0)
          io.stderr.write(
            'no tokens yet; create one with: warren-controller token create --name <name> --role <admin|operator|viewer>\n',
          );
        else io.stdout.write(tokenTable(list));
        return 0;
      }
      case 'token revoke': {
        try {
          const token = await tokens.revoke(action.name);
          await record('token.revoke', 'allowed', { name: token.name, role: token.role, tokenId: token.id });
          io.stderr.write(`revoked token ${JSON.stringify(token.name)}; requests with it are refused from now on\n`);
          return 0;
        } catch (err) {
          if (!(err instanceof TokenError)) throw err;
          await record('token.revoke', 'denied', { name: action.name }, err.message);
          return fail(err.message);
        }
      }
    }
  } finally {
    await stores.close();
  }
}
