#!/usr/bin/env node
require('../dist/apps/agent/main.js');
