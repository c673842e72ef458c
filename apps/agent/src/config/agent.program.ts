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
  {
    attr: 'host',
    flag: '--host',
    flags: '--host <id>',
    envVar: 'WARREN_HOST_ID',
    description: "this host's id; its inbox is <namespace>.agent.<id> (required)",
  },
  {
    attr: 'broker',
    flag: '--broker',
    flags: '--broker <url>',
    envVar: 'WARREN_BROKER_URL',
    description: 'broker URL, amqp:// or amqps://',
    default: 'amqp://guest:guest@127.0.0.1:5672',
  },
  {
    attr: 'brokerCa',
    flag: '--broker-ca',
    flags: '--broker-ca <file>',
    envVar: 'WARREN_BROKER_CA',
    description: "PEM CA certificate the broker's TLS certificate must chain to (amqps://; default: the system CAs)",
  },
  {
    attr: 'brokerCert',
    flag: '--broker-cert',
    flags: '--broker-cert <file>',
    envVar: 'WARREN_BROKER_CERT',
    description: 'PEM client certificate, for a broker that verifies peers (with --broker-key)',
  },
  {
    attr: 'brokerKey',
    flag: '--broker-key',
    flags: '--broker-key <file>',
    envVar: 'WARREN_BROKER_KEY',
    description: 'PEM private key of --broker-cert',
  },
  {
    attr: 'labels',
    flag: '--labels',
    flags: '--labels <k=v,...>',
    envVar: 'WARREN_LABELS',
    description: 'labels reported in heartbeats, shown by `warren hosts`',
    default: '',
  },
  {
    attr: 'concurrency',
    flag: '--concurrency',
    flags: '--concurrency <n>',
    envVar: 'WARREN_CONCURRENCY',
    description: 'most commands run at once (1-1024)',
    default: '4',
  },
  {
    attr: 'stateDir',
    flag: '--state-dir',
    flags: '--state-dir <dir>',
    envVar: 'WARREN_STATE_DIR',
    description: 'where the invocation journal lives (default: ~/.warren/agent-<host>)',
  },
  {
    attr: 'trust',
    flag: '--trust',
    flags: '--trust <file>',
    envVar: 'WARREN_TRUST',
    description:
      'controller public key (PEM) whose signatures this agent obeys; repeat, or separate with commas, to trust several during a key rotation (required)',
  },
  {
    attr: 'clockSkew',
    flag: '--clock-skew',
    flags: '--clock-skew <dur>',
    envVar: 'WARREN_CLOCK_SKEW',
    description:
      "how far in the future a command's issue time may be (clock difference); expiry is checked exactly, so keep clocks in sync",
    default: '30s',
  },
  {
    attr: 'namespace',
    flag: '--namespace',
    flags: '--namespace <name>',
    envVar: 'WARREN_NAMESPACE',
    description: 'prefix of every exchange and queue name',
    default: 'warren',
  },
  {
    attr: 'presenceInterval',
    flag: '--presence-interval',
    flags: '--presence-interval <dur>',
    envVar: 'WARREN_PRESENCE_INTERVAL',
    description: 'heartbeat period: 500ms, 5s, 2m or seconds',
    default: '5s',
  },
  {
    attr: 'policy',
    flag: '--policy',
    flags: '--policy <file>',
    envVar: 'WARREN_POLICY',
    description:
      "local policy (YAML or JSON): allowed and denied commands, run-as users, timeout and output ceilings (see docs/policy.md); without one, commands run as the agent's own user, and never as root",
  },
  {
    attr: 'maxOutput',
    flag: '--max-output',
    flags: '--max-output <bytes>',
    envVar: 'WARREN_MAX_OUTPUT_BYTES',
    description: 'bytes of stdout, and of stderr, kept per command; the rest is counted, not kept',
    default: '1048576',
  },
  {
    attr: 'shutdownGrace',
    flag: '--shutdown-grace',
    flags: '--shutdown-grace <dur>',
    envVar: 'WARREN_SHUTDOWN_GRACE',
    description: 'on SIGTERM, how long running commands may finish before they are killed',
    default: '10s',
  },
  {
    attr: 'amqpHeartbeat',
    flag: '--amqp-heartbeat',
    flags: '--amqp-heartbeat <sec>',
    envVar: 'WARREN_AMQP_HEARTBEAT',
    description: 'AMQP heartbeat in seconds (0 = off)',
    default: '10',
  },
  {
    attr: 'logLevel',
    flag: '--log-level',
    flags: '--log-level <level>',
    envVar: 'WARREN_LOG_LEVEL',
    description: 'trace|debug|info|warn|error|fatal|silent',
    default: 'info',
  },
];

/** Every setting of the agent, in `--help` order. */
export const AGENT_SETTINGS: readonly AgentSetting[] = SPECS.map(({ attr, flag, envVar }) => ({ attr, flag, envVar }));

/**
 * The agent's command line; `--help` is generated from it. Options carry no parsers: values stay
 * text, so that a flag and its environment variable go through the same conversion and validation.
 */
export function agentProgram(): Command {
  const program = new Command('warren-agent')
    .description(
      'Warren agent: runs the shell commands sent to this host over RabbitMQ and replies with their results.',
    )
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
    // Repeatable: the values are joined with commas, the same form as the environment variable.
    if (s.attr === 'trust') o.argParser((v: string, prev?: string) => (prev ? `${prev},${v}` : v));
    program.addOption(o);
  }
  return program;
}
