import type { AppliedChange, InvocationUpdate } from '../task-store.port';
import type { PgClient } from './pg.database';
import { captureValues, pgText } from './pg-task.rows';

/** Outcomes an agent reports only after it took the command: they override the controller's guesses. */
const RAN_STATES = `('succeeded', 'failed', 'timed_out', 'cancelled', 'error')`;

/**
 * The controller's guesses that an agent's word about a command it journaled replaces (the same
 * rule as SQLite's, see sqlite-task.transitions.ts): `pending`, `undelivered`, and `cancelled`
 * by the controller before any `started`.
 */
const GUESSED_NOT_STARTED = `(i.state IN ('pending', 'undelivered') OR (i.state = 'cancelled' AND i.started_at IS NULL))`;

/** What each batched statement returns: which update (its index in the call) changed which task's row. */
interface Changed {
  ord: number;
  task_id: string;
}

/**
 * Locks the rows of `taskIds` (`FOR UPDATE`), always in the same order (byte-wise by id), so that
 * two transactions that lock several tasks never wait for each other in a cycle. Every transaction
 * that changes a task's invocations takes this lock first: under READ COMMITTED, the completion
 * check of one then sees every change of the other, committed before it got the lock
 * (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-READ-COMMITTED).
 */
export async function lockTasks(client: PgClient, taskIds: string[]): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM tasks WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE`,
    [taskIds],
  );
  return rows.map((r) => r.id);
}

/**
 * Applies `updates` inside the caller's transaction, with the semantics of SQLite's one-by-one
 * loop: the tasks they concern are locked first; then the updates go in rounds (the first update
 * of each invocation, then the second…), each round one multi-row `UPDATE … FROM unnest(…)` per
 * kind, every one conditional on the row's current state (a stale or repeated update matches no
 * row). Then each touched task is reopened or completed. Returns the changes in update order and
 * the tasks completed, in the order they were first changed.
 */
export async function applyUpdatesIn(
  client: PgClient,
  updates: InvocationUpdate[],
  now: number,
): Promise<{ changes: AppliedChange[]; completedTaskIds: string[] }> {
  if (updates.length === 0) return { changes: [], completedTaskIds: [] };
  // The tasks of the invocations named, locked as lockTasks does, in one statement (an
  // invocation's task never changes, so it may be read before the lock).
  await client.query(
    `SELECT id FROM tasks WHERE id IN (SELECT task_id FROM invocations WHERE id = ANY($1::text[]))
     ORDER BY id COLLATE "C" FOR UPDATE OF tasks`,
    [[...new Set(updates.map((u) => u.invocationId))]],
  );
  const changed: Changed[] = [];
  for (const round of rounds(updates)) changed.push(...(await applyRound(client, round, now)));
  changed.sort((a, b) => a.ord - b.ord);
  const changes = changed.map(({ ord, task_id }) => {
    const u = updates[ord];
    const state = u.kind === 'started' ? 'running' : u.kind === 'interrupted' ? 'lost' : u.state;
    return { invocationId: u.invocationId, taskId: task_id, state, kind: u.kind };
  });
  const touched = [...new Set(changes.map((c) => c.taskId))];
  return { changes, completedTaskIds: await settleTasks(client, touched, now) };
}

/**
 * Reopens each of `taskIds` that has an active invocation again and completes each that has none
 * left (`cancelled` when a cancel was requested), in one statement; the caller holds their locks.
 * Returns the ids it completed, in the order of `taskIds`.
 */
export async function settleTasks(client: PgClient, taskIds: string[], now: number): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const { rows } = await client.query<{ id: string; active: boolean }>(
    `UPDATE tasks t SET
       state = CASE WHEN a.active THEN 'running' WHEN t.cancel_requested_at IS NULL THEN 'completed' ELSE 'cancelled' END,
       finished_at = CASE WHEN a.active THEN NULL ELSE $2::bigint END
     FROM (SELECT x.id, EXISTS (SELECT 1 FROM invocations i WHERE i.task_id = x.id AND i.state IN ('pending', 'running')) AS active
           FROM unnest($1::text[]) AS x(id)) a
     WHERE t.id = a.id AND CASE WHEN a.active THEN t.state IN ('completed', 'cancelled') ELSE t.state = 'running' END
     RETURNING t.id, a.active`,
    [taskIds, now],
  );
  const completed = new Set(rows.filter((r) => !r.active).map((r) => r.id));
  return taskIds.filter((id) => completed.has(id));
}

/** The updates with their index, in rounds: round n holds the n-th update of each invocation. */
function rounds(updates: InvocationUpdate[]): { ord: number; u: InvocationUpdate }[][] {
  const seen = new Map<string, number>();
  const out: { ord: number; u: InvocationUpdate }[][] = [];
  updates.forEach((u, ord) => {
    const n = seen.get(u.invocationId) ?? 0;
    seen.set(u.invocationId, n + 1);
    (out[n] ??= []).push({ ord, u });
  });
  return out;
}

type Indexed<K extends InvocationUpdate['kind']> = { ord: number; u: Extract<InvocationUpdate, { kind: K }> };

/** One round: no invocation twice, so its statements touch disjoint rows and their order does not matter. */
async function applyRound(client: PgClient, round: { ord: number; u: InvocationUpdate }[], now: number) {
  const of = <K extends InvocationUpdate['kind']>(kind: K) => round.filter((r): r is Indexed<K> => r.u.kind === kind);
  return [
    ...(await applyStarted(client, of('started'), now)),
    ...(await applyResults(client, of('result'), now)),
    ...(await applyInterrupted(client, of('interrupted'), now)),
    ...(await applyVerdicts(client, of('verdict'), now)),
  ];
}

async function applyStarted(client: PgClient, batch: Indexed<'started'>[], now: number): Promise<Changed[]> {
  if (batch.length === 0) return [];
  const { rows } = await client.query<Changed>(
    `UPDATE invocations i SET state = 'running', started_at = u.at,
       deadline_at = $1 + u.grace + t.timeout_ms + t.kill_grace_ms, reason = NULL, finished_at = NULL, updated_at = $1
     FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) AS u(ord, inv, who, at, grace), tasks t
     WHERE i.id = u.inv AND i.host = u.who AND t.id = i.task_id AND ${GUESSED_NOT_STARTED}
     RETURNING u.ord, i.task_id`,
    [
      now,
      batch.map((b) => b.ord),
      batch.map((b) => b.u.invocationId),
      batch.map((b) => b.u.host),
      batch.map((b) => b.u.startedAt),
      batch.map((b) => b.u.resultGraceMs),
    ],
  );
  return rows;
}

async function applyResults(client: PgClient, batch: Indexed<'result'>[], now: number): Promise<Changed[]> {
  if (batch.length === 0) return [];
  const out = batch.map((b) => captureValues(b.u.stdout));
  const err = batch.map((b) => captureValues(b.u.stderr));
  const { rows } = await client.query<Changed>(
    `UPDATE invocations i SET state = u.st, exit_code = u.exit, signal = u.sig,
       stdout = u.out, stderr = u.err, stdout_raw = u.out_raw, stderr_raw = u.err_raw,
       stdout_utf8 = u.out_utf8, stderr_utf8 = u.err_utf8, stdout_bytes = u.out_bytes, stderr_bytes = u.err_bytes,
       stdout_truncated = u.out_cut, stderr_truncated = u.err_cut, reason = u.why, reject_code = u.code,
       started_at = COALESCE(u.began, i.started_at), finished_at = u.ended, duration_ms = u.took,
       result_file = u.file, deadline_at = NULL, updated_at = $1
     FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[], $9::text[],
       $10::bytea[], $11::bytea[], $12::bool[], $13::bool[], $14::bigint[], $15::bigint[], $16::bool[], $17::bool[],
       $18::text[], $19::text[], $20::bigint[], $21::bigint[], $22::bigint[], $23::text[])
       AS u(ord, inv, who, st, exit, sig, out, err, out_raw, err_raw, out_utf8, err_utf8, out_bytes, err_bytes,
         out_cut, err_cut, why, code, began, ended, took, file)
     WHERE i.id = u.inv AND i.host = u.who
       AND (i.state IN ('pending', 'running') OR (i.state IN ('undelivered', 'lost', 'cancelled') AND u.st IN ${RAN_STATES}))
     RETURNING u.ord, i.task_id`,
    [
      now,
      batch.map((b) => b.ord),
      batch.map((b) => b.u.invocationId),
      batch.map((b) => b.u.host),
      batch.map((b) => b.u.state),
      batch.map((b) => b.u.exitCode),
      batch.map((b) => pgText(b.u.signal)),
      out.map((c) => c.text),
      err.map((c) => c.text),
      out.map((c) => c.raw),
      err.map((c) => c.raw),
      out.map((c) => c.utf8),
      err.map((c) => c.utf8),
      out.map((c) => c.bytes),
      err.map((c) => c.bytes),
      out.map((c) => c.truncated),
      err.map((c) => c.truncated),
      batch.map((b) => pgText(b.u.reason)),
      batch.map((b) => b.u.code ?? null),
      batch.map((b) => b.u.startedAt),
      batch.map((b) => b.u.finishedAt),
      batch.map((b) => b.u.durationMs),
      batch.map(({ u }) =>
        u.file ? JSON.stringify({ sha256: u.file.sha256, size: u.file.size, changed: u.file.changed }) : null,
      ),
    ],
  );
  return rows;
}

async function applyInterrupted(client: PgClient, batch: Indexed<'interrupted'>[], now: number): Promise<Changed[]> {
  if (batch.length === 0) return [];
  const { rows } = await client.query<Changed>(
    `UPDATE invocations i SET state = 'lost', reason = u.why, finished_at = u.at, deadline_at = NULL, updated_at = $1
     FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(ord, inv, who, why, at)
     WHERE i.id = u.inv AND i.host = u.who AND (${GUESSED_NOT_STARTED} OR i.state IN ('running', 'lost'))
     RETURNING u.ord, i.task_id`,
    [
      now,
      batch.map((b) => b.ord),
      batch.map((b) => b.u.invocationId),
      batch.map((b) => b.u.host),
      batch.map((b) => pgText(b.u.reason)),
      batch.map((b) => b.u.at),
    ],
  );
  return rows;
}

/**
 * The controller's verdicts, three rules in one statement by `mode`: `any` takes a pending or
 * running invocation, `pending` only a pending one (`pendingOnly`), `overdue` only one still in
 * `overdueFrom` and still past its deadline at `at` (the sweeper's, see the port).
 */
async function applyVerdicts(client: PgClient, batch: Indexed<'verdict'>[], now: number): Promise<Changed[]> {
  if (batch.length === 0) return [];
  const mode = (u: Indexed<'verdict'>['u']) => (u.overdueFrom ? 'overdue' : u.pendingOnly ? 'pending' : 'any');
  const { rows } = await client.query<Changed>(
    `UPDATE invocations i SET state = u.st, reason = u.why, finished_at = u.at, deadline_at = NULL, updated_at = $1
     FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[])
       AS u(ord, inv, st, why, at, mode, from_state)
     WHERE i.id = u.inv AND CASE u.mode
       WHEN 'any' THEN i.state IN ('pending', 'running')
       WHEN 'pending' THEN i.state = 'pending'
       ELSE i.state = u.from_state AND i.deadline_at IS NOT NULL AND i.deadline_at <= u.at END
     RETURNING u.ord, i.task_id`,
    [
      now,
      batch.map((b) => b.ord),
      batch.map((b) => b.u.invocationId),
      batch.map((b) => b.u.state),
      batch.map((b) => pgText(b.u.reason)),
      batch.map((b) => b.u.at),
      batch.map((b) => mode(b.u)),
      batch.map((b) => b.u.overdueFrom ?? null),
    ],
  );
  return rows;
}
