#!/usr/bin/env node
// The executable (`wssd`, `node dist/server.js`): see cli/main.ts.
import { main } from './cli/main.js';

void main(process.argv.slice(2));
