// Server children as compiled JavaScript, as a deployed server runs, not under
// tsx (why: server-process.ts). A case names its tsconfig — one whose
// "files" are its child scripts, extending tsconfig.servers.json here so that
// every one compiles into test-output/bench-servers/ — and gets the path of
// the compiled entry to run. certs/ and package.json are linked beside the
// output, where the compiled src/ looks for them.
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './children.js';

const OUT = fileURLToPath(new URL('../../test-output/bench-servers/', import.meta.url));
const done = new Set<string>();

/**
 * Compiles the project `tsconfig` (tsc, a few seconds; once per bench run)
 * into test-output/bench-servers/ — inside the package, so that its "type":
 * "module" applies; certs/ and package.json are linked beside — and returns the compiled path
 * of `entry`, given from the repository's root ("bench/harness/echo-server.js").
 */
export function compiledServer(tsconfig: URL, entry: string): string {
  const project = fileURLToPath(tsconfig);
  if (!done.has(project)) {
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, stdio: 'inherit' });
    if (!existsSync(`${OUT}certs`)) symlinkSync(fileURLToPath(new URL('../../certs', import.meta.url)), `${OUT}certs`, 'dir');
    // src/server/version.ts reads the version from ../../package.json, from dist/ and from here alike.
    if (!existsSync(`${OUT}package.json`)) symlinkSync(fileURLToPath(new URL('../../package.json', import.meta.url)), `${OUT}package.json`, 'file');
    done.add(project);
  }
  return `${OUT}${entry}`;
}
