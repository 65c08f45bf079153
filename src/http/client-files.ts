// The client, served beside the WebSocket service so a page can load it
// without a bundler: GET /wssd-client.js and the one module it imports,
// /wssd-protocol.js. They are the compiled files of src/client/ (dist/client/),
// read once, when first asked for.
import { readFileSync } from 'node:fs';

/** The paths served, and the file each is. */
const FILES: Readonly<Record<string, string>> = { '/wssd-client.js': 'wssd-client.js', '/wssd-protocol.js': 'wssd-protocol.js' };

const cache = new Map<string, string | undefined>();

/** The file for a served path; undefined when the path is not one (or the client was not built). */
export function clientFile(path: string): string | undefined {
  const name = FILES[path];
  if (name === undefined) return undefined;
  if (!cache.has(name)) cache.set(name, read(name));
  return cache.get(name);
}

function read(name: string): string | undefined {
  // dist/http/ → dist/client/; run from src/ (tsx), the built files are in dist/client/.
  for (const where of [`../client/${name}`, `../../dist/client/${name}`]) {
    try {
      return readFileSync(new URL(where, import.meta.url), 'utf8');
    } catch {
      // the next place
    }
  }
  return undefined;
}
