// The plain HTTP answers beside the WebSocket service: the test page on
// GET /, the counters on GET /stats (on the WebSocket port, or on a separate
// plain-HTTP port bound to loopback by default). Everything else on the
// WebSocket port goes on to the upgrade rules (and a plain GET gets 426).
import http from 'node:http';
import type { Logger } from '../log.js';
import { demoPage, htmlResponse } from './demo-page.js';
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
}

/** The whole response for a plain GET (no Upgrade) of a side route, or undefined to go on with the handshake rules. */
export function sideRouteResponse(head: RequestHead, routes: SideRoutes): string | Promise<string> | undefined {
  // HTTP/1.0 too: a proxy in front may speak it for plain requests (nginx's default).
  if (head.method !== 'GET' || (head.httpVersion !== 'HTTP/1.1' && head.httpVersion !== 'HTTP/1.0') || head.headers.upgrade !== undefined) return undefined;
  if (head.path === '/stats' && routes.stats) {
    const json = routes.statsJson();
    return typeof json === 'string' ? htmlResponse(200, json, 'application/json') : json.then((body) => htmlResponse(200, body, 'application/json'));
  }
  if (head.path === '/' && routes.demoPage) return htmlResponse(200, demoPage(routes.wsPath));
  return undefined;
}

/** A plain-HTTP server for /stats alone, listening on port and host. */
export function startStatsServer(port: number, host: string, statsJson: () => string | Promise<string>, log: Logger): http.Server {
  const server = http.createServer((req, res) => {
    if (req.url !== '/stats') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /stats here\n');
      return;
    }
    void Promise.resolve(statsJson()).then(
      (body) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  server.on('error', (error) => log.error(`stats server: ${error.message}`));
  server.listen(port, host);
  return server;
}
