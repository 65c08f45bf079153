// GatewayWorker's routerBind (spec §5.3): sticky per client; least-connections
// picks the first worker, in connection order, with the fewest clients given.
import { describe, expect, it } from 'vitest';
import { WorkerRouter } from '../../../src/gatewayworker/worker-router.js';

describe('WorkerRouter', () => {
  it('least-connections: the first worker with the fewest, ties broken by the order workers connected', () => {
    const router = new WorkerRouter('least-connections');
    router.add('a');
    router.add('b');
    expect([router.route(undefined), router.route(undefined), router.route(undefined)]).toEqual(['a', 'b', 'a']);
    router.release('a');
    router.release('a');
    expect(router.route(undefined)).toBe('a');
  });

  it('a client keeps its worker while it is connected, and picks again when it is gone', () => {
    const router = new WorkerRouter('least-connections');
    router.add('a');
    router.add('b');
    const first = router.route(undefined);
    expect(router.route(first)).toBe(first);
    router.remove('a');
    expect(router.route('a')).toBe('b');
  });

  it('a worker that connects again goes to the end, counting from 0; none connected: undefined', () => {
    const router = new WorkerRouter('least-connections');
    expect(router.route(undefined)).toBeUndefined();
    router.add('a');
    router.add('b');
    router.route(undefined);
    router.route(undefined);
    router.add('a');
    expect(router.route(undefined)).toBe('a');
    expect(router.route(undefined)).toBe('b');
  });

  it('release never counts below zero', () => {
    const router = new WorkerRouter('least-connections');
    router.add('a');
    router.add('b');
    router.release('a');
    router.release('a');
    router.route(undefined);
    expect(router.route(undefined)).toBe('b');
  });

  it('random: the pick follows the random source', () => {
    const values = [0.9, 0.1];
    const router = new WorkerRouter('random', () => values.shift() ?? 0);
    router.add('a');
    router.add('b');
    expect([router.route(undefined), router.route(undefined)]).toEqual(['b', 'a']);
  });
});
