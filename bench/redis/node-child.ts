// A wssd node child of case 9 (redis-node.ts, under tsx; not pinned) and its
// requests.
import { fileURLToPath } from 'node:url';
import { Child } from '../harness/children.js';
import type { NodeReply, NodeRequest, NodeUsage } from './redis-pacing.js';

const nodeEntry = fileURLToPath(new URL('./redis-node.ts', import.meta.url));

export class NodeChild {
  /** "A" or "B". */
  readonly name: string;
  private readonly child: Child<NodeRequest, NodeReply>;

  private constructor(name: string, child: Child<NodeRequest, NodeReply>) {
    this.name = name;
    this.child = child;
  }

  static async start(name: string, redisUrl: string): Promise<NodeChild> {
    const child = await Child.start<NodeRequest, NodeReply>({
      name: `node ${name}`,
      args: ['--import', 'tsx', '--expose-gc', nodeEntry, redisUrl],
      requestTimeoutMs: 20_000,
      // It closes its server (and its Redis connections) first.
      exitGraceMs: 2000,
    });
    return new NodeChild(name, child);
  }

  get port(): number {
    return this.child.port;
  }

  request<T extends NodeReply['type']>(message: Parameters<Child<NodeRequest, NodeReply>['request']>[0]): Promise<Extract<NodeReply, { type: T }>> {
    return this.child.request<T>(message);
  }

  /** Every subscriber on both nodes has every publication before `seq` (no reply). */
  ack(seq: number): void {
    this.child.send({ type: 'ack', seq });
  }

  usage(): Promise<NodeUsage> {
    return this.request<'usage'>({ type: 'usage' });
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}
