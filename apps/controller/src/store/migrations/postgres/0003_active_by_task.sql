-- Warren controller schema, version 3 (PostgreSQL): the invocations of a task still pending or
-- running, indexed apart (issue "One task to 10,000 hosts"). Every commit of replies asks, per task
-- it touched, whether any invocation is still active (settleTasks); through the (task_id, host)
-- index that question walked past every invocation of the task already ended, a cost that grew
-- with the task's size on each batch. This index holds only the active ones. The SQLite twin is
-- ../sqlite/0003_active_by_task.sql.
CREATE INDEX IF NOT EXISTS invocations_active_by_task ON invocations(task_id) WHERE state IN ('pending', 'running');
