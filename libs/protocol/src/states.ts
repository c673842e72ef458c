/**
 * Life of one invocation (one command on one host):
 * `pending` (published) → `running` (the agent said `started`) → one terminal state.
 */
export const INVOCATION_STATES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'undelivered',
  'unknown_host',
  'lost',
  'rejected',
  'error',
  'skipped',
] as const;

/** One of {@link INVOCATION_STATES}. */
export type InvocationState = (typeof INVOCATION_STATES)[number];

/**
 * States an invocation never leaves once reached, with one exception: `undelivered` and `lost` are
 * inferred from silence (a deadline passed), and if the agent later reports that it did run the
 * command, its report wins: Warren says what happened on the host, not what the controller guessed.
 */
export const TERMINAL_STATES: ReadonlySet<InvocationState> = new Set<InvocationState>([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'undelivered',
  'unknown_host',
  'lost',
  'rejected',
  'error',
  'skipped',
]);

/** Terminal states an agent may report in a `result` message. */
export const AGENT_RESULT_STATES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'rejected', 'error'] as const;

/** One of {@link AGENT_RESULT_STATES}. */
export type AgentResultState = (typeof AGENT_RESULT_STATES)[number];

/** A task is `running` until every invocation is terminal. */
export const TASK_STATES = ['running', 'completed', 'cancelled'] as const;

/** One of {@link TASK_STATES}. */
export type TaskState = (typeof TASK_STATES)[number];

export function isTerminal(state: InvocationState): boolean {
  return TERMINAL_STATES.has(state);
}
