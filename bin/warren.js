#!/usr/bin/env node
require('../dist/apps/cli/main.js');
