// The plain HTTP answers beside the WebSocket service: the test page on
// GET /, the client on GET /wssd-client.js, GET /healthz for load balancers (always), the counters on GET /stats
// and GET /metrics (Prometheus) when stats are on — on the WebSocket port, or
// on a separate plain-HTTP port bound to loopback by default. Everything else
// on the WebSocket port goes on to the upgrade rules (a plain GET gets 426).
import http from 'node:http';
import type { Logger } from '../telemetry/log.js';
import { clientFile } from './client-files.js';
import { demoPage, htmlResponse } from './demo-page.js';
import { METRICS_CONTENT_TYPE } from '../telemetry/prometheus.js';
import type { RequestHead } from './request-head.js';

export interface SideRoutes {
  /** Serve the test page on GET /. */
  demoPage: boolean;
  /** Serve GET /stats on the WebSocket port. */
  stats: boolean;
  /** Where the test page connects. */
  wsPath: string;
  /** The counters as JSON: at once for one process, later when several are asked. */
  statsJson(): string | Promise<string>;
  /** The counters in Prometheus's text format. */
  metrics(): string | Promise<string>;
  /** Whether this node should get traffic: accepting, and its broker connected; else why not. */
  health(): { ok: boolean; reason: string };
}

/** One route's answer: status, content type, body. */
interface Answer {
  status: number;
  type: string;
  body: string;
}

/** The answer for a side route's path, or undefined when it is not one (or is switched off). */
function answer(path: string, routes: SideRoutes, onStatsPort: boolean): Answer | Promise<Answer> | undefined {
  if (path === '/healthz') {
    const { ok, reason } = routes.health();
    return { status: ok ? 200 : 503, type: 'text/plain; charset=utf-8', body: `${reason}\n` };
  }
  if (!onStatsPort && !routes.stats) return undefined;
  if (path === '/stats') return later(routes.statsJson(), (body) => ({ status: 200, type: 'application/json', body }));
  if (path === '/metrics') return later(routes.metrics(), (body) => ({ status: 200, type: METRICS_CONTENT_TYPE, body }));
  return undefined;
}

function later<T, U>(value: T | Promise<T>, then: (value: T) => U): U | Promise<U> {
  return value instanceof Promise ? value.then(then) : then(value);
}

/** The whole response for a plain GET (no Upgrade) of a side route, or undefined to go on with the handshake rules. */
export function sideRouteResponse(head: RequestHead, routes: SideRoutes): string | Promise<string> | undefined {
  // HTTP/1.0 too: a proxy in front may speak it for plain requests (nginx's default).
  if (head.method !== 'GET' || (head.httpVersion !== 'HTTP/1.1' && head.httpVersion !== 'HTTP/1.0') || head.headers.upgrade !== undefined) return undefined;
  if (head.path === '/' && routes.demoPage) return htmlResponse(200, demoPage(routes.wsPath));
  const script = clientFile(head.path);
  // A page of any origin may load the client (a module script is fetched with CORS).
  if (script !== undefined) return htmlResponse(200, script, 'text/javascript; charset=utf-8', 'Access-Control-Allow-Origin: *\r\n');
  const found = answer(head.path, routes, false);
  if (found === undefined) return undefined;
  return later(found, (a) => htmlResponse(a.status, a.body, a.type));
}

/** A plain-HTTP server for /stats, /metrics and /healthz alone, listening on port and host. */
export function startStatsServer(port: number, host: string, routes: SideRoutes, log: Logger): http.Server {
  const server = http.createServer((req, res) => {
    const found = answer(req.url ?? '', routes, true);
    if (found === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /stats, /metrics and /healthz here\n');
      return;
    }
    void Promise.resolve(found).then(
      (a) => res.writeHead(a.status, { 'content-type': a.type, 'cache-control': 'no-store' }).end(a.body),
      () => res.writeHead(500).end(),
    );
  });
  server.on('error', (error) => log.error(`stats server: ${error.message}`));
  server.listen(port, host);
  return server;
}
