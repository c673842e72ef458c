#!/usr/bin/env node
require('../dist/apps/controller/main.js');
