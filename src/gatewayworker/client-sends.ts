// What a BusinessWorker's send or kick body becomes for a client (spec
// §10.2). PHP's Gateway writes every message as a text frame, or, with the
// raw flag, writes the body's bytes to the socket as they are (the
// application framed them). wssd sends messages through the connection
// instead, so every byte still goes through its session (state, compression,
// buffering limits):
//
// - a body is the message: the raw string, or the JSON of a serialized array
//   (clientMessage); sent as text when it is UTF-8, as binary when it is not
//   (a text frame of other bytes would make a browser fail the connection);
// - a raw body is read as the frames it holds (unmasked, as a server sends
//   them; masked ones are read too), each message sent as its frames said
//   (text or binary), a Close frame closing the connection with its code.
//   Bytes must be whole frames of RFC 6455 §5.2 (no RSV bits: a message the
//   application compressed itself cannot be told from garbage).
//   A body that is not whole frames is refused, and nothing of it is sent.
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { CloseCode, Opcode } from '../protocol/constants.js';
import { isUtf8 } from '../protocol/utf8.js';
import { clientMessage, decodeBody } from './json-php.js';
import type { DataLimits } from './php-value.js';

/** One thing to do to a client. */
export type ClientSend = { readonly kind: 'message'; readonly data: Buffer; readonly binary: boolean } | { readonly kind: 'close'; readonly code: number; readonly reason: string };

/** A raw body that is not whole frames. */
export class RawFrameError extends Error {
  override name = 'RawFrameError';
}

/** The message a (non-raw) send or kick body is: PHP's string of a scalar, the JSON of anything else. */
export function messageOf(packet: { flag: number; body: Buffer }, limits?: DataLimits): ClientSend {
  const data = clientMessage(decodeBody(packet, limits));
  return { kind: 'message', data, binary: !isUtf8(data) };
}

/**
 * The messages in a raw body (flag FLAG_NOT_CALL_ENCODE), in order; a Close
 * frame ends the list. Ping and pong frames are left out: the server keeps
 * the connection's liveness itself. Throws RawFrameError for bytes that are
 * not whole, valid frames (a text message that is not UTF-8 included).
 */
export function rawSends(body: Buffer, maxPayload: number): ClientSend[] {
  const sends: ClientSend[] = [];
  let parts: Buffer[] | undefined;
  let partsOpcode: number = Opcode.Text;
  let failure: string | undefined;
  let closed = false;
  const decoder = new FrameDecoder(
    {
      onFrame: (opcode, fin, data, start, end) => {
        if (closed || failure !== undefined) return;
        const payload = data.subarray(start, end);
        if (opcode === Opcode.Close) {
          closed = true;
          const code = payload.length >= 2 ? payload.readUInt16BE(0) : CloseCode.Normal;
          sends.push({ kind: 'close', code, reason: payload.subarray(2).toString('utf8') });
          return;
        }
        if (opcode === Opcode.Ping || opcode === Opcode.Pong) return;
        if (opcode === Opcode.Continuation) {
          if (parts === undefined) return void (failure = 'a continuation frame with no message to continue');
          parts.push(payload);
        } else {
          if (parts !== undefined) return void (failure = 'a new message inside a fragmented one');
          parts = [payload];
          partsOpcode = opcode;
        }
        if (!fin) return;
        const whole = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        parts = undefined;
        if (partsOpcode === Opcode.Text && !isUtf8(whole)) return void (failure = 'a text frame that is not UTF-8');
        sends.push({ kind: 'message', data: whole, binary: partsOpcode === Opcode.Binary });
      },
      onError: (error) => {
        failure ??= error.message;
      },
    },
    { maxPayload, requireMask: false },
  );
  decoder.push(body);
  if (failure === undefined && (parts !== undefined || (!closed && !decoder.atFrameBoundary))) failure = 'the body ends inside a frame';
  if (failure !== undefined) throw new RawFrameError(`a raw send is not whole WebSocket frames: ${failure}`);
  return sends;
}
