// How a wssd node frames what it puts on a Redis channel (pure). Every
// message starts with a version byte, so a node can tell a publication from
// a fleet message and skip what it does not know:
//
//   1  publication:  [1][flags][node id: 8][token: 4 BE][payload]
//                    flags bit 0: binary; bits 1–2: the kind (data, command, presence)
//   3  fleet ask:    [3][0][node id: 8][ask id: 4 BE][question, JSON]
//   4  fleet answer: [4][0][node id: 8][ask id: 4 BE][answer, JSON]
//
// A publication of a topic with history reaches the channel as
// "offset:epoch:" followed by the publication (history.ts's script adds it):
// its first byte is a digit, 0x31–0x39, never a version byte.
import type { PublicationKind } from './broker.js';

export const PUBLICATION = 1;
export const ASK = 3;
export const ANSWER = 4;
export const NODE_ID_BYTES = 8;
export const HEADER = 2 + NODE_ID_BYTES + 4;
const BINARY = 1;

/** One message as it travels on a channel. */
export function encodeMessage(version: number, flags: number, nodeId: Buffer, number: number, body: Buffer): Buffer {
  const message = Buffer.allocUnsafe(HEADER + body.length);
  message[0] = version;
  message[1] = flags;
  nodeId.copy(message, 2);
  message.writeUInt32BE(number >>> 0, 2 + NODE_ID_BYTES);
  body.copy(message, HEADER);
  return message;
}

export function publicationFlags(binary: boolean, kind: PublicationKind): number {
  return (binary ? BINARY : 0) | (kind << 1);
}

/** A message's parts, or undefined when it is too short to be one. */
export interface Decoded {
  version: number;
  binary: boolean;
  kind: PublicationKind;
  nodeId: Buffer;
  number: number;
  body: Buffer;
}

export function decodeMessage(message: Buffer): Decoded | undefined {
  if (message.length < HEADER) return undefined;
  const kind = (message[1] >> 1) & 3;
  if (kind > 2) return undefined;
  return {
    version: message[0],
    binary: (message[1] & BINARY) !== 0,
    kind: kind as PublicationKind,
    nodeId: message.subarray(2, 2 + NODE_ID_BYTES),
    number: message.readUInt32BE(2 + NODE_ID_BYTES),
    body: message.subarray(HEADER),
  };
}
