import { isPostgresUrl } from './postgres/pg.database';

/**
 * `--db` as it may be logged or shown: a PostgreSQL URL with the password of its userinfo and of a
 * `password=` parameter replaced by `***` (libpq URIs may carry either:
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS); a SQLite path as
 * it is.
 */
export function redactDbUrl(db: string): string {
  if (!isPostgresUrl(db)) return db;
  return db.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^/]*@/i, '$1:***@').replace(/([?&]password=)[^&]*/gi, '$1***');
}
