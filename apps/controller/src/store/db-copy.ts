import { pgText, storedCapture } from './postgres/pg-task.rows';
import { CopyTargetNotEmptyError, SchemaNotCurrentError } from '../errors/errors';
import { openDatabase } from './database';
import { MIGRATIONS } from './migrations';
import { latestVersion } from './migrations/migration-plan';
import { MIGRATION_LOCK_KEY, migratePostgres } from './migrations/pg-migrator';
import { sqliteSchemaVersion } from './migrations/sqlite-migrator';
import { inTransaction, type PgClient, type PgPool } from './postgres/pg.database';

/** Every Warren table, parents before the tables that reference them. */
export const COPIED_TABLES = [
  'tasks',
  'invocations',
  'api_tokens',
  'audit_log',
  'host_keys',
  'host_key_rejections',
  'host_key_pre_accepts',
  'hosts',
  // file transfer (schema version 2): uploaded files, so a copied task can be re-run; fetched files
  'files',
  'file_chunks',
  'file_uploads',
  'fetched_chunks',
] as const;

/** Bounds of one multi-row `INSERT` of {@link copySqliteToPostgres}. */
export interface BatchLimits {
  /** most rows per statement (default 500; never more than PostgreSQL's 65,535 bind parameters allow) */
  rows: number;
  /** bytes; a batch is sent once its strings and blobs reach this (default 8 MiB): memory stays bounded by it */
  bytes: number;
}

const DEFAULT_LIMITS: BatchLimits = { rows: 500, bytes: 8 * 1024 * 1024 };

/** Rough bytes a row holds in memory: its strings' and buffers' lengths, 8 for anything else. */
function rowBytes(row: unknown[]): number {
  let n = 0;
  for (const v of row) n += typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 8;
  return n;
}

/**
 * Groups `rows` (read lazily, one at a time) into arrays of at most `limits.rows` rows, each
 * closed as soon as it reaches `limits.bytes`: a history of 100k invocations with their output is
 * never held whole in memory.
 */
export function* rowBatches<T extends unknown[]>(rows: Iterable<T>, limits: BatchLimits): Generator<T[]> {
  let batch: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    batch.push(row);
    bytes += rowBytes(row);
    if (batch.length >= limits.rows || bytes >= limits.bytes) {
      yield batch;
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/** What {@link copySqliteToPostgres} copied: rows per table, in {@link COPIED_TABLES} order. */
export type CopyCounts = { table: (typeof COPIED_TABLES)[number]; rows: number }[];

/**
 * The target table's columns, in order: the SQLite file has the same ones (both at the same
 * version). Values need no conversion: `pg` sends a 0/1 as the text `0`/`1`, which PostgreSQL's
 * boolean input reads as false/true, and a BLOB (a Buffer) as bytea.
 */
async function targetColumns(client: PgClient, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT column_name AS name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => `"${r.name}"`);
}

/**
 * Invocation rows as PostgreSQL's TEXT can hold them (no U+0000): output whose text column holds a
 * NUL goes to its `_raw` column with '' as text, as {@link PgTaskStore} stores it (`storedCapture`),
 * and a NUL in the reason or signal becomes U+FFFD (`pgText`).
 */
function* asPostgresInvocations(rows: Iterable<unknown[]>, columns: string[]): Generator<unknown[]> {
  const at = (name: string) => columns.indexOf(`"${name}"`);
  const streams = (['stdout', 'stderr'] as const).map((s) => ({ text: at(s), raw: at(`${s}_raw`) }));
  const texts = [at('reason'), at('signal')];
  for (const row of rows) {
    for (const { text, raw } of streams) {
      if (text < 0 || raw < 0) continue;
      const value = row[text] as string;
      const bytes = (row[raw] as Buffer | null) ?? Buffer.from(value, 'utf8');
      const stored = storedCapture(value, bytes);
      row[text] = stored.text;
      row[raw] = stored.raw;
    }
    for (const i of texts) if (i >= 0) row[i] = pgText(row[i] as string | null);
    yield row;
  }
}

/** One multi-row `INSERT INTO table (columns) VALUES ($1, …), (…)` of `batch`. */
async function insertBatch(client: PgClient, table: string, columns: string[], batch: unknown[][]): Promise<void> {
  const params: unknown[] = [];
  const tuples = batch.map((row) => {
    const marks = row.map((v) => `$${params.push(v)}`);
    return `(${marks.join(', ')})`;
  });
  await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, params);
}

/**
 * Copies an installation's SQLite file (`sourcePath`, opened read-only and left unchanged) into the
 * PostgreSQL database behind `pool`: migrates the target ({@link migratePostgres}), then in one
 * transaction (holding the migration lock, `pg_advisory_xact_lock`) checks that every Warren table
 * of the target is empty, copies each table in batches streamed from SQLite (`.iterate()`; 0/1
 * become booleans, BLOBs BYTEA), and moves the `audit_log` identity past the
 * copied ids (`setval`), so new records continue after them. Nothing is copied if anything fails.
 *
 * Throws {@link SchemaNotCurrentError} when the file is not at the newest schema version (legacy
 * or older: `migrate` it first), `SchemaTooNewError` when it or the target is newer than this
 * binary, {@link CopyTargetNotEmptyError} when a target table holds rows.
 */
export async function copySqliteToPostgres(
  sourcePath: string,
  pool: PgPool,
  limits: BatchLimits = DEFAULT_LIMITS,
): Promise<CopyCounts> {
  const source = openDatabase(sourcePath, { readonly: true });
  try {
    const known = latestVersion(MIGRATIONS.sqlite);
    const { version } = sqliteSchemaVersion(source);
    if (version !== known) throw new SchemaNotCurrentError(sourcePath, version, known);
    await migratePostgres(pool);
    return await inTransaction(
      pool,
      async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [MIGRATION_LOCK_KEY]);
        const full: string[] = [];
        for (const table of COPIED_TABLES)
          if ((await client.query(`SELECT 1 FROM ${table} LIMIT 1`)).rows.length > 0) full.push(table);
        if (full.length > 0) throw new CopyTargetNotEmptyError(full);
        const counts: CopyCounts = [];
        for (const table of COPIED_TABLES) {
          // Columns of the target the file also has: `invocations.seq` (PostgreSQL's stand-in for
          // SQLite's rowid, the rolling order) is left to its identity, filled in rowid order.
          const inSource = new Set(
            (source.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => `"${c.name}"`),
          );
          const columns = (await targetColumns(client, table)).filter((c) => inSource.has(c));
          const read = source
            .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY rowid`)
            .raw()
            .iterate() as Iterable<unknown[]>;
          const rows = table === 'invocations' ? asPostgresInvocations(read, columns) : read;
          const max = Math.max(1, Math.min(limits.rows, Math.floor(65_535 / columns.length)));
          let copied = 0;
          for (const batch of rowBatches(rows, { rows: max, bytes: limits.bytes })) {
            await insertBatch(client, table, columns, batch);
            copied += batch.length;
          }
          counts.push({ table, rows: copied });
        }
        await client.query(
          `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM audit_log`,
        );
        return counts;
      },
      { attempts: 1 },
    );
  } finally {
    source.close();
  }
}
