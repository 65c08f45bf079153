// Case 12's chat clients: N WebSocket connections opened by the load client
// (harness/load-client.ts), client i in group ⌊i ÷ G⌋ of this folder's
// Events.php. Each joins its group ("join:gNNN", answered "joined:gNNN"),
// then checks that its Gateway has the session the BusinessWorker set ("c",
// answered "in:gNNN"): from then on a chat message reaches the group.
//
// Each chat message (chat-messages.ts) goes to every member of the group,
// the sender too; each receiver checks that it comes from a member of its
// group and that each sender's numbers come in order, one after the other (a
// gap, a repeat or a stranger fails the run), and records send → delivery
// while the cell's window is measured. The sender's own copy is its
// acknowledgement: in a saturating cell a client keeps `window` messages
// unacknowledged and sends the next as one comes back; a paced cell's
// sender skips a client with `credit` unacknowledged.
import type net from 'node:net';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { Opcode } from '../../src/protocol/constants.js';
import { closeAll, sleep, withTimeout } from '../harness/load-client.js';
import { CellStats } from '../harness/latency.js';
import { chatFrame, chatSender, chatSeq, chatTemplate, chatTimeMs, checkDelivery, controlFrame, groupName, isChat, MAX_CLIENTS } from './chat-messages.js';

/** What all the chat clients of a cell share: counters and latencies while recording, and the first error. */
export class ChatStats extends CellStats {
  /** Chat messages sent, and delivered (each counted once per receiver), since the clients opened. */
  sent = 0;
  delivered = 0;

  constructor(maxSamples = 1 << 23) {
    super(maxSamples);
  }
}

class ChatClient {
  /** This client's messages sent, and its own copies received back. */
  seq = 0;
  acked = 0;
  /** In a saturating cell: messages to keep unacknowledged (0: the pacer sends). */
  window = 0;
  private readonly decoder: FrameDecoder;
  /** The next sequence number expected from each sender, by index (members of this client's group only). */
  readonly expected: Int32Array;
  private control: ((text: string) => void) | undefined;

  constructor(
    readonly index: number,
    readonly group: number,
    private readonly room: ChatRoom,
    readonly socket: net.Socket,
    rest: Buffer,
  ) {
    this.expected = new Int32Array(room.clients);
    this.decoder = new FrameDecoder(
      {
        onFrame: (opcode, fin, data, start, end) => {
          if ((opcode !== Opcode.Text && opcode !== Opcode.Binary) || !fin) return room.fail(new Error(`client ${index}: unexpected frame (opcode ${opcode}, fin ${fin})`));
          if (isChat(data, start, end, room.size)) this.delivered(data, start);
          else this.controlReply(data.toString('latin1', start, end));
        },
        onError: (error) => room.fail(error),
      },
      { requireMask: false, maxPayload: 64 * 1024 },
    );
    socket.on('data', (chunk: Buffer) => {
      // Messages sent in answer to the copies in this chunk leave in one write.
      socket.cork();
      this.decoder.push(chunk);
      socket.uncork();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!room.closing) room.fail(new Error(`client ${index} was disconnected`));
    });
    socket.resume();
    if (rest.length > 0) this.decoder.push(rest);
  }

  /** Sends "join:gNNN", then "c" until the answer says the session has the group. */
  async join(): Promise<void> {
    const name = groupName(this.group);
    const joined = await this.ask(`join:${name}`);
    if (joined !== `joined:${name}`) throw new Error(`client ${this.index}: "join:${name}" answered "${joined}"`);
    for (let attempt = 0; ; attempt++) {
      const answer = await this.ask('c');
      if (answer === `in:${name}`) return;
      if (attempt === 50) throw new Error(`client ${this.index}: its session still says "${answer}", not "in:${name}"`);
      await sleep(20);
    }
  }

  private ask(text: string): Promise<string> {
    const answer = new Promise<string>((resolve) => {
      this.control = resolve;
    });
    this.socket.write(controlFrame(text));
    return withTimeout(answer, 10_000, `client ${this.index}: "${text}"`);
  }

  private controlReply(text: string): void {
    const waiter = this.control;
    if (waiter === undefined) return this.room.fail(new Error(`client ${this.index}: unexpected message "${text.slice(0, 80)}"`));
    this.control = undefined;
    waiter(text);
  }

  get inFlight(): number {
    return this.seq - this.acked;
  }

  send(): void {
    const room = this.room;
    room.stats.sent++;
    this.socket.write(chatFrame(room.template, this.index, this.seq++, performance.now()));
  }

  private delivered(data: Buffer, start: number): void {
    const room = this.room;
    const stats = room.stats;
    const sender = chatSender(data, start);
    const problem = checkDelivery(this.expected, this.group, room.groupOf, sender, chatSeq(data, start));
    if (problem !== undefined) return room.fail(new Error(`client ${this.index}: ${problem}`));
    stats.delivered++;
    if (stats.recording) stats.latencies.add(performance.now() - chatTimeMs(data, start));
    if (sender === this.index) {
      this.acked++;
      if (this.inFlight < this.window) this.send();
    }
  }
}

/** The N chat clients on one Gateway, in groups of G. */
export class ChatRoom {
  readonly stats = new ChatStats();
  readonly template: Buffer;
  members: ChatClient[] = [];
  closing = false;
  private pacer: NodeJS.Timeout | undefined;
  /** Time the credit held the pacer back in the current cell, ms. */
  heldMs = 0;

  constructor(
    readonly clients: number,
    readonly groupSize: number,
    /** Bytes per chat message (CHAT_HEAD … 125). */
    readonly size: number,
  ) {
    if (clients > MAX_CLIENTS) throw new Error(`at most ${MAX_CLIENTS} chat clients`);
    this.template = chatTemplate(size);
  }

  readonly groupOf = (index: number): number => Math.floor(index / this.groupSize);

  /** Takes the opened connections (client i is opened[i]) and joins each to its group, 16 at a time. */
  async join(opened: { socket: net.Socket; rest: Buffer }[]): Promise<void> {
    this.members = opened.map((o, i) => new ChatClient(i, this.groupOf(i), this, o.socket, o.rest));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.members.length) await this.members[next++].join();
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    if (this.stats.error !== undefined) throw this.stats.error;
  }

  fail(error: Error): void {
    this.stats.fail(error);
    this.stopSending();
  }

  /** Saturating: each client keeps `window` messages unacknowledged. */
  startClosedLoop(window: number): void {
    for (const c of this.members) {
      c.window = window;
      c.socket.cork();
      while (c.inFlight < window) c.send();
      c.socket.uncork();
    }
  }

  /**
   * Paced: `rate` messages/s in all, the clients taking turns, every
   * millisecond what is due; a client with `credit` messages unacknowledged
   * is skipped, and when all are, the pacer is held back (heldMs).
   */
  startPaced(rate: number, credit: number): void {
    const t0 = performance.now();
    let issued = 0;
    let next = 0;
    let heldSince: number | undefined;
    this.heldMs = 0;
    this.pacer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor(((now - t0) * rate) / 1000) - issued;
      let skipped = 0;
      for (let i = 0; i < due; ) {
        const c = this.members[next];
        next = next + 1 === this.members.length ? 0 : next + 1;
        if (c.inFlight >= credit) {
          if (++skipped === this.members.length) break;
          continue;
        }
        skipped = 0;
        c.send();
        issued++;
        i++;
      }
      const held = skipped === this.members.length;
      if (held) heldSince ??= now;
      else if (heldSince !== undefined) {
        this.heldMs += now - heldSince;
        heldSince = undefined;
      }
    }, 1);
  }

  stopSending(): void {
    if (this.pacer !== undefined) clearInterval(this.pacer);
    this.pacer = undefined;
    for (const c of this.members) c.window = 0;
  }

  /** Whether every message sent has reached every member of its sender's group. */
  private drained(): boolean {
    for (const c of this.members) {
      const first = c.group * this.groupSize;
      const last = Math.min(first + this.groupSize, this.members.length);
      for (let s = first; s < last; s++) if (c.expected[s] !== this.members[s].seq) return false;
    }
    return true;
  }

  /** Stops sending; resolves once every message sent has been delivered to its whole group (fails after 30 s). */
  async stop(what: string): Promise<void> {
    this.stopSending();
    const deadline = performance.now() + 30_000;
    while (!this.drained()) {
      if (this.stats.error !== undefined) throw this.stats.error;
      if (performance.now() > deadline) throw new Error(`${what}: messages still undelivered 30 s after the last was sent`);
      await sleep(10);
    }
    if (this.stats.error !== undefined) throw this.stats.error;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopSending();
    await closeAll(this.members.map((c) => c.socket));
  }
}
