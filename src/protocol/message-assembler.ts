// RFC 6455 §5.4 fragmentation and §5.6 data frames: turns data frames into
// messages. Control frames never reach here (the session handles them, and
// §5.4 allows them between fragments).
//
// A message in one frame is passed on as a view of the frame's payload (the
// one view the decoder leaves to us), no copy. A fragmented one is kept as a list of views and joined once at the
// end. Text is validated as it arrives, so bad UTF-8 fails at its fragment.
//
// A compressed message (RFC 7692: RSV1 on its first frame) is gathered the
// same way but not checked here: its UTF-8 and its size are those of the
// inflated bytes, which the session checks after inflating.
import { Opcode } from './constants.js';
import { protocolErrors } from './errors.js';
import { Utf8Validator, isUtf8 } from './utf8.js';

export interface MessageAssemblerOptions {
  /** Largest message in bytes; larger → 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Most fragments one message may have; more → 1009. Default 100,000. */
  maxFragments?: number;
}

export class MessageAssembler {
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  /** Made the first time a text message is fragmented: most connections never need one. */
  private utf8: Utf8Validator | undefined;
  /** Opcode of the message being assembled, or -1 between messages. */
  private opcode = -1;
  /** The fragments so far; no array between messages (most connections are idle most of the time). */
  private fragments: Buffer[] | undefined;
  private fragmentCount = 0;
  private size = 0;
  /** The type of the message `push` last returned. */
  binary = false;
  /** Whether the message `push` last returned is compressed (its first frame had RSV1). */
  compressed = false;
  /** The message being assembled is compressed. */
  private compressing = false;

  constructor(options: MessageAssemblerOptions = {}) {
    this.maxPayload = options.maxPayload ?? 16 * 1024 * 1024;
    this.maxFragments = options.maxFragments ?? 100_000;
  }

  /** True while a fragmented message is open. */
  get inMessage(): boolean {
    return this.opcode !== -1;
  }

  /**
   * Takes one data frame (opcode 0, 1 or 2), its payload data[start..end). Returns the completed message's
   * payload (its type in `binary`), or undefined while a fragmented message is
   * still open. Throws a ProtocolError for a violation. No result object, so
   * the hot path allocates nothing.
   */
  push(opcode: number, fin: boolean, data: Buffer, start = 0, end = data.length, compressed = false): Buffer | undefined {
    const payload = start === 0 && end === data.length ? data : data.subarray(start, end);
    if (opcode === Opcode.Continuation) {
      if (this.opcode === -1) throw protocolErrors.unexpectedContinuation();
    } else if (this.opcode !== -1) {
      throw protocolErrors.expectedContinuation();
    } else if (compressed) {
      this.compressing = true;
      if (fin) {
        this.binary = opcode === Opcode.Binary;
        this.compressed = true;
        this.compressing = false;
        return payload;
      }
      this.opcode = opcode;
    } else if (fin) {
      // The common case: a whole message in one frame.
      this.compressed = false;
      if (payload.length > this.maxPayload) throw protocolErrors.tooBig(this.maxPayload);
      if (opcode === Opcode.Text && !isUtf8(payload)) throw protocolErrors.invalidUtf8();
      this.binary = opcode === Opcode.Binary;
      return payload;
    } else {
      this.opcode = opcode;
    }

    this.size += payload.length;
    // A compressed message's wire size was bounded by the decoder; its inflated size is the session's to check.
    if (this.size > this.maxPayload && !this.compressing) throw protocolErrors.tooBig(this.maxPayload);
    if (++this.fragmentCount > this.maxFragments) throw protocolErrors.tooManyFragments(this.maxFragments);
    if (this.opcode === Opcode.Text && !this.compressing && !(this.utf8 ??= new Utf8Validator()).push(payload)) throw protocolErrors.invalidUtf8();
    if (payload.length > 0) (this.fragments ??= []).push(payload);
    if (!fin) return undefined;

    const binary = this.opcode === Opcode.Binary;
    const wasCompressed = this.compressing;
    if (!binary && !wasCompressed && this.utf8 !== undefined && !this.utf8.finish()) throw protocolErrors.invalidUtf8();
    const fragments = this.fragments ?? [];
    const message = fragments.length === 1 ? fragments[0] : Buffer.concat(fragments, this.size);
    this.reset();
    this.binary = binary;
    this.compressed = wasCompressed;
    return message;
  }

  reset(): void {
    this.opcode = -1;
    this.compressing = false;
    this.fragments = undefined;
    this.fragmentCount = 0;
    this.size = 0;
    this.utf8?.reset();
  }
}
