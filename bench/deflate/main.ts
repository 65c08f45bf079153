// Case 8 alone: `npm run bench:deflate` (10,000 connections, the open-file
// limit raised first) or `tsx bench/deflate/main.ts [--quick] [--connections
// N] [--ws PATH]`: its tables, then one JSON line with its figures.
import { parseArgs } from 'node:util';
import { runDeflateCase } from './case.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, connections: { type: 'string' }, ws: { type: 'string' } } });
const result = await runDeflateCase({ quick: values.quick === true, connections: Number(values.connections ?? 1000), ws: values.ws });
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
