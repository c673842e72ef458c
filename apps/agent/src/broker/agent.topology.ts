import { assertTopology, type Channel } from '@warren/amqp';
import { agentTopology } from '@warren/protocol';

/**
 * The agent's topology setup, run on every (re)connect before anything attaches; idempotent.
 * Asserts what every Warren process shares (command, control and replies direct exchanges, the
 * fanout dead-letter exchange and its undelivered queue, the results queue bound to the replies
 * exchange by its own name, the presence fanout), all durable and with exactly the declarations the
 * controller uses, plus this host's inbox: a durable queue with the agent queue arguments (dead-
 * letters to the dlx), bound to the command exchange with the host id as routing key.
 */
export function agentTopologySetup(namespace: string, host: string): (channel: Channel) => Promise<void> {
  return (channel) => assertTopology(channel, agentTopology(namespace, host));
}
