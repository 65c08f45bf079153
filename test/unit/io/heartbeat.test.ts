// The server-wide heartbeat on a manual clock: when it pings, when it checks,
// and that stop() ends it, without waiting for real time.
import { describe, expect, it } from 'vitest';
import { Heartbeat, type HeartbeatPeer } from '../../../src/io/heartbeat.js';
import { ManualClock } from '../helpers/manual-clock.js';

class Peer implements HeartbeatPeer {
  log: string[] = [];
  constructor(private readonly clock: ManualClock) {}
  heartbeatPing(): void {
    this.log.push(`ping@${this.clock.now()}`);
  }
  heartbeatCheck(): void {
    this.log.push(`check@${this.clock.now()}`);
  }
}

describe('Heartbeat', () => {
  it('pings every peer each interval and checks them `timeout` after each ping', () => {
    const clock = new ManualClock();
    const peers = [new Peer(clock), new Peer(clock)];
    const heartbeat = new Heartbeat(peers, 1000, 300, clock);
    heartbeat.start();
    clock.advance(999);
    expect(peers[0].log).toEqual([]);
    clock.advance(2001);
    for (const peer of peers) expect(peer.log).toEqual(['ping@1000', 'check@1300', 'ping@2000', 'check@2300', 'ping@3000']);
  });

  it('peers added later are included from the next ping (the set is read at each beat)', () => {
    const clock = new ManualClock();
    const peers = new Set<Peer>();
    const first = new Peer(clock);
    peers.add(first);
    new Heartbeat(peers, 100, 10, clock).start();
    clock.advance(150);
    const late = new Peer(clock);
    peers.add(late);
    clock.advance(100);
    expect(first.log).toEqual(['ping@100', 'check@110', 'ping@200', 'check@210']);
    expect(late.log).toEqual(['ping@200', 'check@210']);
  });

  it('stop() cancels the pending beat: nothing more happens, no timer is left', () => {
    const clock = new ManualClock();
    const peer = new Peer(clock);
    const heartbeat = new Heartbeat([peer], 100, 50, clock);
    heartbeat.start();
    clock.advance(120);
    heartbeat.stop();
    expect(clock.timers).toBe(0);
    clock.advance(1000);
    expect(peer.log).toEqual(['ping@100']);
  });

  it('a timeout equal to the interval still leaves at least 1 ms between a check and the next ping', () => {
    const clock = new ManualClock();
    const peer = new Peer(clock);
    new Heartbeat([peer], 100, 100, clock).start();
    clock.advance(302);
    expect(peer.log).toEqual(['ping@100', 'check@200', 'ping@201', 'check@301', 'ping@302']);
  });
});
