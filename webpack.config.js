// Nest CLI webpack hook (nest-cli.json `webpackConfigPath`): Nest's defaults, plus one rule so that
// `import sql from './0001_initial.sql?raw'` bundles the migration's text into the controller, as
// Vite (and so vitest) does natively for `?raw`.
module.exports = (options) => ({
  ...options,
  module: {
    ...options.module,
    rules: [...options.module.rules, { resourceQuery: /raw/, type: 'asset/source' }],
  },
});
