// The harness the GatewayWorker parity tests share (parity.test.ts,
// parity-differences.test.ts): a Scene holds one scenario's clients on one
// Gateway, closes them at its end and records every client's transcript, so
// parity.test.ts can compare what each client received under wssd with what
// it received under PHP's Gateway; runOnEachGateway runs a file's scenarios
// on each Gateway, each on its own Register and BusinessWorker. The titles of the two scenarios whose
// answers differ by design are here because both files name them: one runs
// them, the other leaves them out of the comparison.
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  BusinessWorker,
  businessWorkersConnected,
  gatewayClient,
  labelled,
  PHP_TEST_TIMEOUT,
  quiet,
  served,
  startPhpGateway,
  startRegister,
  startWssdGateway,
  stopAll,
  type Entry,
  type GatewayKind,
  type GatewayUnderTest,
  type GwClient,
  type OpenOptions,
} from './support.js';

/** Its answers differ by design (wssd's limits), each stated in it: left out of the side-by-side comparison. */
export const LIMITS =
  'names PHP takes and wssd refuses (logged): a group past --max-topic-length (256 bytes), a uid past 256 bytes, a group that is not UTF-8; Unicode, spaces and numeric-looking names work in both';

/**
 * Its answers differ by design, each stated in it: a raw send is written as
 * it is by PHP, read as frames by wssd (client-sends.ts). Left out of the
 * side-by-side comparison.
 */
export const RAW_AS_FRAMES = 'raw sends wssd reads as frames and PHP writes as they are: a ping, a masked frame, a Close, bytes that are not frames';

export const KINDS: readonly GatewayKind[] = ['php', 'wssd-ws', 'wssd-wss'];

/** Scenario → Gateway → client → everything it received (ids and the client port labelled). */
export const transcripts = new Map<string, Map<GatewayKind, Record<string, Entry[]>>>();

/** The clients of one scenario: closed at its end, their transcripts kept. */
export class Scene {
  readonly clients: GwClient[] = [];
  constructor(readonly gateway: GatewayUnderTest) {}

  get kind(): GatewayKind {
    return this.gateway.kind;
  }

  get php(): boolean {
    return this.gateway.kind === 'php';
  }

  async open(name: string, options?: OpenOptions): Promise<GwClient> {
    const client = await this.gateway.open(name, options);
    this.clients.push(client);
    return client;
  }

  /** A GatewayClient call from a separate PHP process. */
  gc(call: string, ...args: unknown[]): Promise<unknown> {
    return gatewayClient(this.gateway.register, call, ...args);
  }

  /** Closes what is open (also after a failure: the next scenario starts clean). */
  async closeAll(): Promise<void> {
    for (const client of this.clients) await client.close().catch(() => client.destroy());
    await quiet(this.gateway);
  }

  /** Keeps every client's transcript, for the side-by-side comparison. */
  record(title: string): void {
    // The client port differs from Gateway to Gateway: where it shows, it is written <port>.
    const port = this.gateway.port;
    const ports: [string, string][] = [
      [`"gatewayPort":${port}`, '"gatewayPort":"<port>"'],
      [`"SERVER_PORT":${port}`, '"SERVER_PORT":"<port>"'],
      [`127.0.0.1:${port}`, '127.0.0.1:<port>'],
    ];
    const record: Record<string, Entry[]> = {};
    for (const client of this.clients) record[client.name] = labelled(client.received, this.clients).map((e) => ports.reduce((text, [from, to]) => text.split(from).join(to), e));
    const byKind = transcripts.get(title) ?? new Map<GatewayKind, Record<string, Entry[]>>();
    byKind.set(this.kind, record);
    transcripts.set(title, byKind);
  }
}

export type Scenario = (s: Scene) => Promise<void>;

/** Runs `scenarios` on each Gateway in turn (PHP's, wssd over ws://, over wss://), each on its own Register and BusinessWorker, recording every transcript. */
export function runOnEachGateway(scenarios: readonly (readonly [string, Scenario])[]): void {
  describe.each(KINDS)('the %s Gateway with a PHP Register and BusinessWorker', (kind) => {
    let gateway: GatewayUnderTest;

    beforeAll(async () => {
      const register = await startRegister();
      new BusinessWorker(register);
      if (kind === 'php') {
        gateway = await startPhpGateway(register);
      } else {
        const wssd = await startWssdGateway(register, { tls: kind === 'wssd-wss' });
        await businessWorkersConnected(wssd.process);
        gateway = wssd;
      }
      await served(gateway);
      await quiet(gateway);
    }, PHP_TEST_TIMEOUT);
    afterAll(stopAll, PHP_TEST_TIMEOUT);

    for (const [title, scenario] of scenarios) {
      it(
        title,
        async () => {
          const scene = new Scene(gateway);
          try {
            await scenario(scene);
          } finally {
            await scene.closeAll();
          }
          scene.record(title);
        },
        PHP_TEST_TIMEOUT,
      );
    }
  });
}
