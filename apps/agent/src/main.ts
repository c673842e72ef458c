import { scrubBrokerPasswordFromProcessTitle } from '@warren/amqp';
import { loadConfigOrExit } from '@warren/runtime';
import { createRootLogger } from '@warren/runtime/logger';
import { createAgent } from './agent';
import { runAgent } from './agent.signals';
import { loadAgentConfig } from './config/agent.config';

/** Entry point of `warren-agent` (bundled to dist/apps/agent/main.js; runs on load). No DI container: see agent.ts. */
async function bootstrap(): Promise<void> {
  scrubBrokerPasswordFromProcessTitle();
  const config = loadConfigOrExit('warren-agent', () => loadAgentConfig(process.argv.slice(2)));
  const logger = createRootLogger('warren-agent', config.logLevel, { host: config.host });
  await runAgent(() => createAgent(config, logger), logger, process);
}

bootstrap().catch((err: Error) => {
  process.stderr.write(`warren-agent: ${err.message}\n`);
  process.exit(1);
});
