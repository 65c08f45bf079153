#!/usr/bin/env node
// The executable (`wssd`, `node dist/server.js`): see cli.ts.
import { main } from './cli.js';

void main(process.argv.slice(2));
