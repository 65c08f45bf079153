// A wssd.v1 client written for the tests, over RawClient: sends commands
// with ids, and reads replies and pushes as JSON, keeping every frame in
// order so a test can look at what came before a reply.
import type { RawClient } from './raw-client.js';

export type Frame = Record<string, unknown>;

export class V1Raw {
  private nextId = 1;
  /** Frames read but not yet taken, in order. */
  readonly frames: Frame[] = [];

  constructor(readonly raw: RawClient) {}

  /** Upgrades offering wssd.v1 (and a token in the query, if given); checks the server chose it. */
  static async open(raw: RawClient, path = '/'): Promise<V1Raw> {
    const response = await raw.upgrade({ path, headers: { 'Sec-WebSocket-Protocol': 'wssd.v1' } });
    if (response.headers['sec-websocket-protocol'] !== 'wssd.v1') throw new Error(`the server did not choose wssd.v1: ${JSON.stringify(response.headers)}`);
    return new V1Raw(raw);
  }

  /** Sends a command; returns its id. */
  send(cmd: string, fields: Frame = {}): number {
    const id = this.nextId++;
    this.raw.sendText(JSON.stringify({ id, cmd, ...fields }));
    return id;
  }

  /** Sends a command and waits for its reply (other frames are kept). */
  async call(cmd: string, fields: Frame = {}, ms = 3000): Promise<Frame> {
    const id = this.send(cmd, fields);
    return this.take((f) => f.id === id, ms);
  }

  /** The first kept or next frame that `wanted` takes. */
  async take(wanted: (frame: Frame) => boolean, ms = 3000): Promise<Frame> {
    const at = this.frames.findIndex(wanted);
    if (at >= 0) return this.frames.splice(at, 1)[0];
    for (;;) {
      const frame = await this.raw.readFrame(ms);
      if (frame.opcode === 0x8) throw new Error(`closed with ${frame.payload.readUInt16BE(0)} while waiting`);
      const parsed = JSON.parse(frame.payload.toString('utf8')) as Frame;
      if (wanted(parsed)) return parsed;
      this.frames.push(parsed);
    }
  }

  /** The next push of a kind. */
  push(kind: string, ms = 3000): Promise<Frame> {
    return this.take((f) => f.push === kind, ms);
  }
}
