// What load balancers and monitoring see: GET /healthz (200, or 503 with the
// reason while the broker is away), TCP health checks (connect, close without
// a byte) counted in /stats and never logged, and GET /metrics in the
// Prometheus text format.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/poll.js';
import { RedisServer } from '../helpers/redis-server.js';
import { MODES, PLAIN_MODE, startServer, type TestServer } from '../helpers/test-server.js';

let ts: TestServer | undefined;
let redis: RedisServer | undefined;
afterEach(async () => {
  await ts?.close();
  ts = undefined;
  await redis?.stop();
  redis = undefined;
});

async function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

describe.each(MODES)('over $name', (mode) => {
  it('a TCP health check (connect, close without a byte) is counted in /stats and adds no log line', async () => {
    ts = await startServer(mode);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const c = net.connect(ts?.port ?? 0, '127.0.0.1', () => c.end());
        c.on('close', () => resolve());
      });
    }
    const server = ts;
    await eventually(() => JSON.parse(server.server.statsJson()).probes === 5, 3000, 'five probes counted');
    expect(server.logs.entries).toEqual([]);
    expect(server.server.tlsClientErrors.size).toBe(0);
  });
});

describe('GET /healthz and GET /metrics', () => {
  it('/healthz is 200 "ok" on the WebSocket port, stats or not', async () => {
    ts = await startServer(PLAIN_MODE);
    expect(await get(ts.port, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect((await get(ts.port, '/metrics')).status).toBe(426);
  });

  it('/healthz flips to 503 while Redis is down and back to 200 when it returns; /metrics says so too', async () => {
    redis = await RedisServer.start();
    ts = await startServer(PLAIN_MODE, { redis: redis.url, stats: true });
    const server = ts;
    await eventually(async () => (await get(server.port, '/healthz')).status === 200, 3000, 'healthy once connected');
    expect((await get(server.port, '/metrics')).body).toContain('wssd_broker_connected 1\n');
    await redis.kill();
    await eventually(async () => (await get(server.port, '/healthz')).status === 503, 3000, '503 while Redis is down');
    expect((await get(server.port, '/healthz')).body).toBe('broker disconnected\n');
    expect((await get(server.port, '/metrics')).body).toContain('wssd_broker_connected 0\n');
    await redis.run();
    await eventually(async () => (await get(server.port, '/healthz')).status === 200, 5000, 'healthy again');
    server.server.publish('t', 'timed');
    await eventually(async () => (await get(server.port, '/metrics')).body.includes('wssd_publish_latency_seconds_count 1\n'), 3000, 'the publish acknowledged and timed');
    const body = (await get(server.port, '/metrics')).body;
    expect(body).toContain('# TYPE wssd_publish_latency_seconds histogram\n');
    expect(body).toContain('wssd_publish_latency_seconds_bucket{le="+Inf"} 1\n');
    expect(body).toContain('wssd_broker_outages_total 1\n');
  });

  it('/metrics: the Prometheus text format, every counter of /stats, labelled series', async () => {
    ts = await startServer(PLAIN_MODE, { stats: true });
    const client = await ts.open();
    client.sendText('hello');
    await client.readFrame();
    const refused = await ts.connect();
    refused.write('GET /x HTTP/1.0\r\n\r\n');
    await refused.readResponse();
    const { status, type, body } = await get(ts.port, '/metrics');
    expect(status).toBe(200);
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
    // Every line is a comment or "name{labels} value".
    for (const line of body.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) wssd_\w+ .+|wssd_\w+(\{\w+="[^"]*"(,\w+="[^"]*")*\})? -?[0-9.e+]+)$/);
    expect(body).toContain('wssd_connections 1\n');
    expect(body).toContain('wssd_messages_total{direction="in"} 1\n');
    expect(body).toContain('wssd_handshakes_refused_total{status="505"} 1\n');
    expect(body).toContain('wssd_handshake_refusals_total{code="WS_HS_HTTP_VERSION"} 1\n');
    expect(body).toContain('# TYPE wssd_published_total counter\n');
  });
});
