import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { type QueueType, readPublicKeyFile, type TrustedKey } from '@warren/protocol';
import { withBrokerPassword } from '@warren/amqp';
import { type ConfigEnv, ConfigError, parseCommandLine, processEnv, readConfig, settingName } from '@warren/runtime';
import { AGENT_OPTIONS, agentProgram, type ProcessTrackingMode } from './agent.program';
import { buildBaseEnv } from './base-env.builder';
import { loadAgentPolicy } from '../policy/policy.loader';
import { PolicyError } from '../policy/policy.error';
import type { AgentPolicy } from '../policy/policy.types';

export { ConfigError } from '@warren/runtime';
export { parseLabels } from './labels.parser';
export { MAX_OUTPUT_CAP, type ProcessTrackingMode } from './agent.program';

/** TLS files for the broker connection, read at boot so that a bad path stops the agent at once. */
export interface BrokerTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Everything the agent is configured with, validated at boot by {@link loadAgentConfig}. */
export class AgentConfig {
  /** this host's id; the routing key of its inbox */
  host: string;
  /** amqp:// or amqps:// URL, or several separated by commas; holds a password, so it is never logged unredacted */
  brokerUrl: string;
  /** PEM material for amqps:// (`--broker-ca`, `--broker-cert`, `--broker-key`), read at boot; empty for the system CAs */
  brokerTls: BrokerTls;
  /** reported in heartbeats, for targeting by label */
  labels: Record<string, string>;
  /** most commands run at once; also the inbox prefetch */
  concurrency: number;
  /** absolute path of the directory holding the invocation journal and the agent's key */
  stateDir: string;
  /** controller public keys whose signatures this agent obeys (at least one) */
  trustedKeys: TrustedKey[];
  /** ms of clock difference tolerated when checking a command's issue and expiry times */
  clockSkewMs: number;
  /** prefix of every exchange and queue name */
  namespace: string;
  /** type of the durable queues this agent declares (its inbox and control queue, the shared ones); see `QUEUE_TYPE_OPTION` */
  queueType: QueueType;
  /** ms between presence heartbeats */
  presenceIntervalMs: number;
  /** bytes of stdout, and separately of stderr, kept per command */
  maxOutputBytes: number;
  /** ms; on shutdown, how long running commands may finish before their process groups are killed */
  shutdownGraceMs: number;
  /** s; AMQP heartbeat, so a dead broker connection is noticed within about twice this */
  amqpHeartbeatSec: number;
  logLevel: string;
  /** the environment commands start from: the agent's own minus every WARREN_* variable */
  childEnv: Readonly<Record<string, string>>;
  /** the local policy (`--policy`, or the default one), users resolved; it wins over every envelope */
  policy: AgentPolicy;
  /** how timeout and cancel reach a command's processes: a cgroup v2 per command, or its process group */
  processTracking: ProcessTrackingMode;
}

/** Reads every `--trust` file (comma-separated); at least one is required. */
function loadTrustedKeys(text: string | undefined): TrustedKey[] {
  const name = settingName(AGENT_OPTIONS.trust);
  const paths = (text ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (paths.length === 0) {
    throw new ConfigError(
      `${name} is required: the controller's public key (the controller writes it to <state-dir>/controller.pub); the agent runs only commands signed by a trusted key`,
    );
  }
  return paths.map((p) => {
    try {
      return readPublicKeyFile(resolve(p));
    } catch (err) {
      throw new ConfigError(`${name} ${(err as Error).message}`);
    }
  });
}

/** Reads `--policy` (none = the default policy). `agentMaxOutputBytes` is the ceiling its cap may lower. */
function loadPolicy(path: string | undefined, agentMaxOutputBytes: number): AgentPolicy {
  try {
    return loadAgentPolicy(path === undefined || path === '' ? null : resolve(path), { agentMaxOutputBytes });
  } catch (err) {
    if (err instanceof PolicyError) throw new ConfigError(`${settingName(AGENT_OPTIONS.policy)} ${err.message}`);
    throw err;
  }
}

/**
 * Reads flags and environment into a validated {@link AgentConfig}; a flag wins over its
 * environment variable, which wins over the default. Throws {@link ConfigError} with one line naming
 * the bad setting; rethrows commander's `--help`/`--version` exits (their `exitCode` is 0).
 */
export function loadAgentConfig(argv: string[], env: ConfigEnv = processEnv()): AgentConfig {
  const program = agentProgram();
  parseCommandLine(program, argv);
  const o = readConfig(program, AGENT_OPTIONS, env);
  if ((o.brokerCert === undefined) !== (o.brokerKey === undefined))
    throw new ConfigError(
      '--broker-cert and --broker-key (WARREN_BROKER_CERT, WARREN_BROKER_KEY) go together: give both or neither',
    );
  return Object.assign(new AgentConfig(), {
    host: o.host,
    brokerUrl: withBrokerPassword(o.broker, o.brokerPasswordFile),
    brokerTls: { ca: o.brokerCa, cert: o.brokerCert, key: o.brokerKey },
    labels: o.labels,
    concurrency: o.concurrency,
    stateDir: resolve(o.stateDir ?? join(homedir(), '.warren', `agent-${o.host}`)),
    trustedKeys: loadTrustedKeys(o.trust),
    clockSkewMs: o.clockSkew,
    namespace: o.namespace,
    queueType: o.queueType,
    presenceIntervalMs: o.presenceInterval,
    maxOutputBytes: o.maxOutput,
    shutdownGraceMs: o.shutdownGrace,
    amqpHeartbeatSec: o.amqpHeartbeat,
    logLevel: o.logLevel,
    childEnv: buildBaseEnv(env),
    policy: loadPolicy(o.policy, o.maxOutput),
    processTracking: o.processTracking,
  } satisfies AgentConfig);
}
