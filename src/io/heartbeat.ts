// Heartbeats for every connection of a server on one timer: ping all, then
// after `timeout` let each check whether anything came back, then wait out
// the rest of the interval. A connection costs no timer of its own (idle
// connections are many), and the first ping leaves `interval` after start.
import type { Clock, Timer } from './clock.js';

/** What the heartbeat drives on each connection. */
export interface HeartbeatPeer {
  /** Sends a ping and forgets having heard from the peer. */
  heartbeatPing(): void;
  /** Ends the connection if nothing at all arrived since the ping. */
  heartbeatCheck(): void;
}

export class Heartbeat {
  private timer: Timer | undefined;
  private stopped = false;

  constructor(
    private readonly peers: Iterable<HeartbeatPeer>,
    private readonly interval: number,
    private readonly timeout: number,
    private readonly clock: Clock,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.interval);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay: number): void {
    this.timer = this.clock.setTimeout(() => this.ping(), delay).unref();
  }

  private ping(): void {
    if (this.stopped) return;
    for (const peer of this.peers) peer.heartbeatPing();
    this.timer = this.clock.setTimeout(() => this.check(), this.timeout).unref();
  }

  private check(): void {
    if (this.stopped) return;
    for (const peer of this.peers) peer.heartbeatCheck();
    this.schedule(Math.max(1, this.interval - this.timeout));
  }
}
