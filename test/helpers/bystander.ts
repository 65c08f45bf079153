// For tests of hostile input: a TLS server plus one connection opened before
// the attack, which must still echo afterwards (the server neither crashed
// nor stalled). Call the returned close() in afterEach.
import { expect } from 'vitest';
import { Op, type RawClient } from './raw-client.js';
import { startServer, TLS_MODE, type StartOptions, type TestServer } from './test-server.js';

export interface BystanderScene {
  /** A TLS server with `options` and a bystander connection. */
  serverWithBystander(options?: StartOptions): Promise<TestServer>;
  /** The bystander still gets a 3,000-byte binary echo. */
  expectBystanderEchoes(): Promise<void>;
  close(): Promise<void>;
}

export function bystanderScene(): BystanderScene {
  let ts: TestServer | undefined;
  let bystander: RawClient | undefined;
  return {
    async serverWithBystander(options = {}) {
      ts = await startServer(TLS_MODE, options);
      bystander = await ts.open();
      return ts;
    },
    async expectBystanderEchoes() {
      const client = bystander as RawClient;
      const payload = Buffer.alloc(3000, 0xb7);
      client.sendBinary(payload);
      const frame = await client.readFrame(2000);
      expect(frame.opcode).toBe(Op.Binary);
      expect(frame.payload.equals(payload)).toBe(true);
    },
    async close() {
      await ts?.close();
      ts = undefined;
      bystander = undefined;
    },
  };
}
