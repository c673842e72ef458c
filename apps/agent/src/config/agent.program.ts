import { WARREN_VERSION } from '@warren/protocol';
import { Command, Option } from 'commander';

/** One setting: its flag, its environment variable and its default (as text, parsed like a flag). */
export interface AgentSetting {
  /** commander attribute name of the flag, e.g. `maxOutput` for `--max-output` */
  attr: string;
  /** `--flag`, as named in error messages */
  flag: string;
  envVar: string;
}

interface SettingSpec extends AgentSetting {
  flags: string;
  description: string;
  default?: string;
}

const SPECS: SettingSpec[] = [
  { attr: 'host', flag: '--host', flags: '--host <id>', envVar: 'WARREN_HOST_ID', description: "this host's id; its inbox is <namespace>.agent.<id> (required)" },
  { attr: 'broker', flag: '--broker', flags: '--broker <url>', envVar: 'WARREN_BROKER_URL', description: 'broker URL, amqp:// or amqps://', default: 'amqp://guest:guest@127.0.0.1:5672' },
  { attr: 'labels', flag: '--labels', flags: '--labels <k=v,...>', envVar: 'WARREN_LABELS', description: 'labels reported in heartbeats, shown by `warren hosts`', default: '' },
  { attr: 'concurrency', flag: '--concurrency', flags: '--concurrency <n>', envVar: 'WARREN_CONCURRENCY', description: 'most commands run at once (1-1024)', default: '4' },
  { attr: 'stateDir', flag: '--state-dir', flags: '--state-dir <dir>', envVar: 'WARREN_STATE_DIR', description: 'where the invocation journal lives (default: ~/.warren/agent-<host>)' },
  { attr: 'namespace', flag: '--namespace', flags: '--namespace <name>', envVar: 'WARREN_NAMESPACE', description: 'prefix of every exchange and queue name', default: 'warren' },
  { attr: 'presenceInterval', flag: '--presence-interval', flags: '--presence-interval <dur>', envVar: 'WARREN_PRESENCE_INTERVAL', description: 'heartbeat period: 500ms, 5s, 2m or seconds', default: '5s' },
  { attr: 'maxOutput', flag: '--max-output', flags: '--max-output <bytes>', envVar: 'WARREN_MAX_OUTPUT_BYTES', description: 'bytes of stdout, and of stderr, kept per command; the rest is counted, not kept', default: '1048576' },
  { attr: 'shutdownGrace', flag: '--shutdown-grace', flags: '--shutdown-grace <dur>', envVar: 'WARREN_SHUTDOWN_GRACE', description: 'on SIGTERM, how long running commands may finish before they are killed', default: '10s' },
  { attr: 'amqpHeartbeat', flag: '--amqp-heartbeat', flags: '--amqp-heartbeat <sec>', envVar: 'WARREN_AMQP_HEARTBEAT', description: 'AMQP heartbeat in seconds (0 = off)', default: '10' },
  { attr: 'logLevel', flag: '--log-level', flags: '--log-level <level>', envVar: 'WARREN_LOG_LEVEL', description: 'trace|debug|info|warn|error|fatal|silent', default: 'info' },
];

/** Every setting of the agent, in `--help` order. */
export const AGENT_SETTINGS: readonly AgentSetting[] = SPECS.map(({ attr, flag, envVar }) => ({ attr, flag, envVar }));

/**
 * The agent's command line; `--help` is generated from it. Options carry no parsers: values stay
 * text, so that a flag and its environment variable go through the same conversion and validation.
 */
export function agentProgram(): Command {
  const program = new Command('warren-agent')
    .description('Warren agent: runs the shell commands sent to this host over RabbitMQ and replies with their results.')
    .version(WARREN_VERSION)
    .allowExcessArguments(false)
    .addHelpText(
      'after',
      '\nEvery flag may also be set by the environment variable named after it; a flag wins over its variable.\n' +
        'WARREN_* variables are removed from the environment of the commands the agent runs.\n' +
        'Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a fatal error, 2 on invalid configuration.',
    );
  for (const s of SPECS) {
    const o = new Option(s.flags, `${s.description} [env ${s.envVar}]`);
    if (s.default !== undefined) o.default(s.default);
    program.addOption(o);
  }
  return program;
}
