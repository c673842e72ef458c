import { AMQP_HEARTBEAT_OPTION, BROKER_OPTIONS, NAMESPACE_OPTION, QUEUE_TYPE_OPTION } from '@warren/amqp';
import { HOST_ID_PATTERN } from '@warren/protocol';
import {
  addConfigOptions,
  ConfigError,
  got,
  integer,
  LOG_LEVEL_OPTION,
  matching,
  oneOf,
  type OptionTable,
  text,
} from '@warren/runtime';
import { Command } from 'commander';
import { parseDurationMs } from '@warren/api';
import { versionLine } from './build.stamp';
import { parseLabels } from './labels.parser';

/** bytes; the most output per stream an agent may keep. Two captures, JSON-escaped, must fit a reply. */
export const MAX_OUTPUT_CAP = 4 * 1024 * 1024;

/** `--process-tracking`: how an agent reaches everything a command started (docs/process-tracking.md). */
export const PROCESS_TRACKING_MODES = ['auto', 'cgroup', 'process-group'] as const;
/** One of {@link PROCESS_TRACKING_MODES}. */
export type ProcessTrackingMode = (typeof PROCESS_TRACKING_MODES)[number];

/** A duration from `minMs` to `maxMs`; `minText`/`maxText` name the bounds in messages. */
function duration(minMs: number, minProblem: string, maxMs = Infinity, maxProblem = '') {
  return (t: string | undefined): number => {
    const ms = t === undefined ? null : parseDurationMs(t);
    if (ms === null) throw new ConfigError(`must be a duration like 500ms, 5s or 2m${got(t ?? '')}`);
    if (ms < minMs) throw new ConfigError(`${minProblem}${got(t!)}`);
    if (ms > maxMs) throw new ConfigError(`${maxProblem}${got(t!)}`);
    return ms;
  };
}

/** Every setting of the agent, in `--help` order; {@link loadAgentConfig} turns them into an `AgentConfig`. */
export const AGENT_OPTIONS = {
  host: {
    flags: '--host <id>',
    env: 'WARREN_HOST_ID',
    description: "this host's id; its inbox is <namespace>.agent.<id> (required)",
    parse: (t: string | undefined) =>
      matching(HOST_ID_PATTERN, 'must be a host id: letters, digits, . _ -, at most 63 characters')(text(true)(t)),
  },
  ...BROKER_OPTIONS,
  labels: {
    flags: '--labels <k=v,...>',
    env: 'WARREN_LABELS',
    description: 'labels reported in heartbeats; a change counts once `warren hosts accept` accepts it',
    parse: (t: string | undefined) => parseLabels(t ?? ''),
  },
  concurrency: {
    flags: '--concurrency <n>',
    env: 'WARREN_CONCURRENCY',
    description: 'most commands run at once (1-1024)',
    default: '4',
    parse: integer(1, 1024),
  },
  stateDir: {
    flags: '--state-dir <dir>',
    env: 'WARREN_STATE_DIR',
    description: 'where the invocation journal lives (default: ~/.warren/agent-<host>)',
    parse: text(),
  },
  trust: {
    flags: '--trust <file>',
    env: 'WARREN_TRUST',
    description:
      'controller public key (PEM) whose signatures this agent obeys; repeat, or separate with commas, to trust several during a key rotation (required)',
    repeatable: true,
    parse: text(),
  },
  clockSkew: {
    flags: '--clock-skew <dur>',
    env: 'WARREN_CLOCK_SKEW',
    description:
      "how far in the future a command's issue time may be (clock difference); expiry is checked exactly, so keep clocks in sync",
    default: '30s',
    parse: duration(0, 'must not be negative', 300_000, 'must be at most 5m'),
  },
  namespace: NAMESPACE_OPTION,
  queueType: QUEUE_TYPE_OPTION,
  presenceInterval: {
    flags: '--presence-interval <dur>',
    env: 'WARREN_PRESENCE_INTERVAL',
    description: 'heartbeat period: 500ms, 5s, 2m or seconds',
    default: '5s',
    parse: duration(100, 'must be at least 100ms', 3_600_000, 'must be at most 1h'),
  },
  policy: {
    flags: '--policy <file>',
    env: 'WARREN_POLICY',
    description:
      "local policy (YAML or JSON): allowed and denied commands, run-as users, timeout and output ceilings, paths files may be written to and read from (see docs/policy.md); without one, commands run as the agent's own user, never as root, and no file may be copied or fetched",
    parse: text(),
  },
  maxOutput: {
    flags: '--max-output <bytes>',
    env: 'WARREN_MAX_OUTPUT_BYTES',
    description: 'bytes of stdout, and of stderr, kept per command; the rest is counted, not kept',
    default: '1048576',
    parse: integer(0, MAX_OUTPUT_CAP, `must be a number of bytes from 0 to ${MAX_OUTPUT_CAP}`),
  },
  shutdownGrace: {
    flags: '--shutdown-grace <dur>',
    env: 'WARREN_SHUTDOWN_GRACE',
    description: 'on SIGTERM, how long running commands may finish before they are killed',
    default: '10s',
    parse: duration(0, 'must not be negative'),
  },
  processTracking: {
    flags: '--process-tracking <mode>',
    env: 'WARREN_PROCESS_TRACKING',
    description:
      'what a timeout or cancel kills: auto (a cgroup v2 per command where the agent can create one, else its process group), cgroup (refuse to start without one), process-group (see docs/process-tracking.md)',
    default: 'auto',
    parse: (t: string | undefined) => oneOf(PROCESS_TRACKING_MODES)(t) as ProcessTrackingMode,
  },
  amqpHeartbeat: AMQP_HEARTBEAT_OPTION,
  logLevel: LOG_LEVEL_OPTION,
} satisfies OptionTable;

/** The agent's command line; `--help` is generated from {@link AGENT_OPTIONS}. */
export function agentProgram(): Command {
  const program = new Command('warren-agent')
    .description(
      'Warren agent: runs the shell commands sent to this host over RabbitMQ and replies with their results.',
    )
    .version(versionLine(), '-V, --version', 'print the version and the commit it was built from')
    .allowExcessArguments(false)
    .addHelpText(
      'after',
      '\nEvery flag may also be set by the environment variable named after it; a flag wins over its variable.\n' +
        'WARREN_* variables are removed from the environment of the commands the agent runs.\n' +
        'Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a fatal error, 2 on invalid configuration.',
    );
  return addConfigOptions(program, AGENT_OPTIONS);
}
