// Nest CLI webpack hook (nest-cli.json `webpackConfigPath`): Nest's defaults, plus one rule so that
// `import sql from './0001_initial.sql?raw'` bundles the migration's text into the controller, as
// Vite (and so vitest) does natively for `?raw`. The agent is built self-contained (see
// scripts/agent-bundle.webpack.js), the CLI for a quick start (scripts/cli-bundle.webpack.js).
const path = require('node:path');
const { agentBundle } = require('./scripts/agent-bundle.webpack');
const { cliBundle } = require('./scripts/cli-bundle.webpack');

module.exports = (options, webpack) => {
  const config = {
    ...options,
    module: {
      ...options.module,
      rules: [...options.module.rules, { resourceQuery: /raw/, type: 'asset/source' }],
    },
  };
  const entry = String(options.entry);
  if (entry.includes(path.join('apps', 'agent', 'src'))) return agentBundle(config, webpack, __dirname);
  if (entry.includes(path.join('apps', 'cli', 'src'))) return cliBundle(config, __dirname);
  return config;
};
