// The server API for backends: HTTP and JSON on a listener of its own (never
// the public WebSocket port; 127.0.0.1 unless told otherwise), every request
// authenticated with a key (Authorization: Bearer KEY, compared in constant
// time), bodies bounded. Routes map onto the one table of methods
// (api-methods.ts); /api/batch runs many of them in order.
//
//   POST /api/publish      {topic, data | data_base64}
//   POST /api/broadcast    {topics, data | data_base64}
//   POST /api/send         {user | client, data | data_base64}
//   POST /api/subscribe    {user | client, topic}        POST /api/unsubscribe  {…}
//   POST /api/disconnect   {user | client, code?, reason?}
//   POST /api/batch        {commands: [{method, params}, …]}
//   GET  /api/users/{user}
//   GET  /api/topics/{topic}           GET /api/topics/{topic}/presence?after=&limit=
//   GET  /api/topics/{topic}/history?since=&epoch=&limit=
//   GET  /api/info
import { createHash, timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../telemetry/log.js';
import { ApiError, apiErrors } from './api-errors.js';
import { call, MAX_BATCH, type ApiBackend, type Params } from './api-methods.js';

export interface ApiServerOptions {
  port: number;
  host: string;
  keys: readonly string[];
  maxBody: number;
  log: Logger;
  /** A request came (for /stats). */
  onRequest?: () => void;
  /** An answer that was not a success, by its code (for /stats). */
  onError?: (code: string) => void;
}

const POST_METHODS = new Set(['publish', 'broadcast', 'send', 'subscribe', 'unsubscribe', 'disconnect', 'batch']);

export class ApiServer {
  readonly server: http.Server;
  /** SHA-256 of each key: compared to the request's in constant time whatever its length. */
  private readonly keys: Buffer[];

  constructor(
    private readonly backend: ApiBackend,
    private readonly options: ApiServerOptions,
  ) {
    this.keys = options.keys.map(digest);
    // Node checks its deadlines every connectionsCheckingInterval (30 s by default): each second, so 10 s means 10 s.
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, connectionsCheckingInterval: 1000 }, (req, res) => void this.handle(req, res));
    this.server.on('clientError', answerClientError);
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: this.options.host, port: this.options.port });
      });
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.options.onRequest?.();
    try {
      if (!this.authorized(req.headers.authorization)) throw apiErrors.unauthorized();
      const { method, params } = await this.route(req);
      const result =
        method === 'batch'
          ? await this.batch(params)
          : await call(this.backend, method, params);
      reply(res, 200, result);
    } catch (error) {
      const answer = error instanceof ApiError ? error : apiErrors.internal();
      if (!(error instanceof ApiError)) this.options.log.error(`server API: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.options.onError?.(answer.code);
      reply(res, answer.status, { error: { code: answer.code, message: answer.message } }, answer.headers);
      // The rest of a body refused unread is not waited for, nor read into memory.
      if (!req.complete) res.on('finish', () => lingeringClose(req));
    }
  }

  private authorized(header: string | undefined): boolean {
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) return false;
    const given = digest(m[1]);
    let ok = false;
    // Every key compared, so the time does not say which one matched.
    for (const key of this.keys) ok = timingSafeEqual(key, given) || ok;
    return ok;
  }

  /** The method a request names and its params: from the JSON body (POST) or the path and query (GET). */
  private async route(req: http.IncomingMessage): Promise<{ method: string; params: Params }> {
    const url = new URL(req.url ?? '/', 'http://api');
    const segments = url.pathname.split('/').slice(1);
    if (segments[0] !== 'api' || segments.length < 2) throw apiErrors.notFound(url.pathname);
    const decoded = segments.slice(1).map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw apiErrors.badParams('a path segment is not valid percent-encoding');
      }
    });
    const [first, second, third] = decoded;
    if (decoded.length === 1 && POST_METHODS.has(first)) {
      if (req.method !== 'POST') throw apiErrors.method('POST');
      return { method: first, params: await this.body(req) };
    }
    const query = Object.fromEntries(url.searchParams);
    const get = (method: string, params: Params): { method: string; params: Params } => {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw apiErrors.method('GET');
      return { method, params: { ...query, ...params } };
    };
    if (first === 'info' && decoded.length === 1) return get('info', {});
    if (first === 'users' && decoded.length === 2) return get('user', { user: second });
    if (first === 'topics' && decoded.length === 2) return get('topic', { topic: second });
    if (first === 'topics' && decoded.length === 3 && (third === 'presence' || third === 'history')) return get(third, { topic: second });
    throw apiErrors.notFound(url.pathname);
  }

  /** The request body as a JSON object, read under the bound. */
  private body(req: http.IncomingMessage): Promise<Params> {
    const limit = this.options.maxBody;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return Promise.reject(apiErrors.bodyTooLarge(limit));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.pause();
          reject(apiErrors.bodyTooLarge(limit));
        } else chunks.push(chunk);
      });
      // A client that went away is no error of the server's (and there is no one left to answer).
      req.on('error', () => reject(apiErrors.aborted()));
      req.on('close', () => req.complete || reject(apiErrors.aborted()));
      req.on('end', () => {
        const bytes = Buffer.concat(chunks, size);
        // JSON.parse would read invalid UTF-8 as U+FFFD: a topic or user named other than the caller meant.
        if (!isUtf8(bytes)) return reject(apiErrors.malformedJson('the request body is not valid UTF-8'));
        let value: unknown;
        try {
          value = JSON.parse(bytes.toString('utf8'));
        } catch {
          return reject(apiErrors.malformedJson());
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(apiErrors.malformedJson());
        resolve(value as Params);
      });
    });
  }

  /** Commands in order, one result each: its answer, or its error. */
  private async batch(params: Params): Promise<{ results: unknown[] }> {
    const commands = params.commands;
    if (!Array.isArray(commands) || commands.length > MAX_BATCH) throw apiErrors.badParams(`commands must be an array of at most ${MAX_BATCH} {method, params}`);
    const results: unknown[] = [];
    for (const command of commands as unknown[]) {
      const c = typeof command === 'object' && command !== null ? (command as Record<string, unknown>) : {};
      try {
        if (typeof c.method !== 'string') throw apiErrors.badParams('each command must be an object {method, params} with method a string');
        if (c.method === 'batch') throw apiErrors.badParams('a batch does not hold a batch');
        results.push(await call(this.backend, c.method, c.params ?? {}));
      } catch (error) {
        const e = error instanceof ApiError ? error : apiErrors.internal();
        this.options.onError?.(e.code);
        results.push({ error: { code: e.code, message: e.message } });
      }
    }
    return { results };
  }
}

/**
 * What Node could not read as a request: 408 past the deadlines (headers 10 s, the whole request
 * 30 s), 431 for a head over Node's bound, 400 for a malformed one — answered, then closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'API_ERR_REQUEST_TIMEOUT', 'the request did not arrive in time (headers within 10 s, the whole request within 30 s)']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'API_ERR_HEADERS_TOO_LARGE', 'the request head is too large']
        : [400, 'API_ERR_BAD_REQUEST', 'not an HTTP/1.1 request'];
  const text = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  destroyAfterLinger(socket);
}

/** How long the rest of a refused body is read and thrown away after the answer (see lingeringClose). */
const LINGER_MS = 2000;

/**
 * After answering a request whose body was refused unread (413, 401…): our
 * side closes, and what the client still sends is discarded, unbuffered, for
 * at most LINGER_MS (nginx's lingering close). Destroying the socket at once
 * would reset it under a client still sending, which then never reads the
 * answer (curl: "Send failure: Connection reset by peer").
 */
function lingeringClose(req: http.IncomingMessage): void {
  const socket = req.socket;
  destroyAfterLinger(socket);
  socket.end();
  // The body's reader paused the request at the limit: without it, what comes is parsed and dropped.
  req.removeAllListeners('data');
  req.resume();
}

/** Our side is ending: the socket is destroyed after LINGER_MS at the latest, if the client has not closed it by then. */
function destroyAfterLinger(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(timer));
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers }).end(text);
}
