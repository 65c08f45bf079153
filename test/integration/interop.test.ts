// Interop with a client nobody here wrote: Debian's python3-websockets, run
// as /usr/bin/python3 test/integration/interop_client.py against an
// in-process server. A missing python3-websockets is a failure, never a skip.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTS_DIR } from '../helpers/raw-client.js';
import { MODES, startServer, withTimeout, type TestServer } from '../helpers/test-server.js';
import { describeMs, scaled } from '../helpers/timeouts.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./interop_client.py', import.meta.url));

/** Why python3-websockets cannot be used, or undefined when it can. */
function pythonWebsocketsProblem(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { encoding: 'utf8', timeout: scaled(10_000) });
  if (probe.error === undefined && probe.status === 0) return undefined;
  const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`;
  const where = process.env['CI'] === 'true' ? 'CI must install it (see .ci/)' : 'install it on this machine';
  return `${PYTHON} cannot import websockets (${why}). The interop test needs it: ${where} with \`apt-get install python3-websockets\`.`;
}

interface InteropResult {
  error?: string;
  websockets_version?: string;
  subprotocol?: string | null;
  text_ok?: boolean;
  text_type?: string;
  binary_ok?: boolean;
  binary_type?: string;
  binary_len?: number;
  ping_ok?: boolean;
  big_text_ok?: boolean;
  extensions?: string | null;
  extension_names?: string[];
  close_code?: number;
  close_reason?: string;
}

function runClient(url: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT, url, `${CERTS_DIR}dev-ca.pem`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`interop client still running after ${describeMs(timeoutMs)}; stderr: ${stderr}`));
    }, scaled(timeoutMs));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('python3-websockets is available', () => {
  it('/usr/bin/python3 can import websockets', () => {
    const problem = pythonWebsocketsProblem();
    if (problem !== undefined) throw new Error(problem);
  });
});

const CASES = MODES.flatMap((mode) => [false, true].map((deflate) => ({ mode, deflate, name: `${mode.name}://${deflate ? ' with permessage-deflate' : ''}` })));

describe.each(CASES)('interop with python3-websockets over $name', ({ mode, deflate }) => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startServer(mode, { subprotocols: ['interop.v1'], perMessageDeflate: deflate });
  });
  afterAll(async () => {
    await ts.close();
  });

  it('text, 64 KiB binary, 1 MiB of text, ping and a clean 1000 close', async () => {
    const problem = pythonWebsocketsProblem();
    if (problem !== undefined) throw new Error(problem);
    const url = `${mode.name}://127.0.0.1:${ts.port}/interop`;
    const run = await runClient(url, 20_000);
    const line = run.stdout.trim().split('\n').pop() ?? '';
    let result: InteropResult;
    try {
      result = JSON.parse(line) as InteropResult;
    } catch {
      throw new Error(`interop client printed no JSON (exit ${run.code}); stdout: ${run.stdout}; stderr: ${run.stderr}`);
    }
    expect(result.error, run.stderr).toBeUndefined();
    expect(run.code).toBe(0);
    expect(result).toMatchObject({
      subprotocol: 'interop.v1',
      text_ok: true,
      text_type: 'str',
      binary_ok: true,
      binary_type: 'bytes',
      binary_len: 65536,
      ping_ok: true,
      big_text_ok: true,
      close_code: 1000,
    });
    // python-websockets offers permessage-deflate by default: agreed only when the server has it on.
    if (deflate) {
      expect(result.extensions).toBe('permessage-deflate; client_no_context_takeover');
      expect(result.extension_names).toEqual(['permessage-deflate']);
    } else {
      expect(result.extensions ?? null).toBeNull();
      expect(result.extension_names).toEqual([]);
    }
    // The server saw the same conversation and the client's Close.
    const side = ts.accepted.find((s) => s.request.path === '/interop');
    expect(side).toBeDefined();
    if (side === undefined) return;
    expect(side.request.secure).toBe(mode.tls);
    expect(side.messages.map((m) => m.isBinary)).toEqual([false, true, false]);
    expect(await withTimeout(side.closed, 2000, 'server close event')).toEqual({ code: 1000, reason: 'interop done' });
  });
});
