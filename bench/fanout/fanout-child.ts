// A fan-out server child (fanout-server.ts, under tsx), pinned to the server's
// CPU once ready, and its requests.
import { fileURLToPath } from 'node:url';
import { Child, underTsx } from '../harness/children.js';
import type { Pinning } from '../harness/os.js';
import type { FanoutKind, FanoutReply, FanoutRequest, FanoutUsage } from './fanout-server.js';

const serverEntry = fileURLToPath(new URL('./fanout-server.ts', import.meta.url));

export class FanoutChild {
  readonly kind: FanoutKind;
  private readonly child: Child<FanoutRequest, FanoutReply>;

  private constructor(kind: FanoutKind, child: Child<FanoutRequest, FanoutReply>) {
    this.kind = kind;
    this.child = child;
  }

  static async start(kind: FanoutKind, pin: Pinning | undefined): Promise<FanoutChild> {
    const child = await Child.start<FanoutRequest, FanoutReply>({
      name: `fan-out ${kind} server`,
      args: underTsx(serverEntry, kind),
      cpu: pin?.server,
    });
    return new FanoutChild(kind, child);
  }

  get port(): number {
    return this.child.port;
  }

  get websocket(): boolean {
    return this.kind === 'wss' || this.kind === 'ws';
  }

  get tls(): boolean {
    return this.kind === 'wss' || this.kind === 'tls';
  }

  request<T extends FanoutReply['type']>(message: Parameters<Child<FanoutRequest, FanoutReply>['request']>[0]): Promise<Extract<FanoutReply, { type: T }>> {
    return this.child.request<T>(message);
  }

  usage(): Promise<FanoutUsage> {
    return this.request<'usage'>({ type: 'usage' });
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
