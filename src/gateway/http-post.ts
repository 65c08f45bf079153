// POSTs to the backend (the connect and subscribe proxies, backend events,
// the message proxy): node:http or node:https with kept-alive connections, a
// deadline on the whole exchange, and the answer's body read under a bound.
// Every failure is an HttpPostError saying why in words an operator can act
// on (refused, timed out, status 500…), never an exception of another kind.
import http from 'node:http';
import https from 'node:https';

export interface PostOptions {
  /** The whole exchange, from connecting to the last byte of the answer, in ms. */
  timeout: number;
  /** Largest answer body read, in bytes; a longer one is an error. */
  maxBody: number;
  headers?: Record<string, string>;
}

export interface PostAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** Why a POST did not get an answer: 'timeout', 'network' (refused, reset, DNS), 'too-large' (the answer). */
export class HttpPostError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'HttpPostError';
  }
}

const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }) };

/** POSTs `body` to `url`; resolves with whatever status came back, rejects with an HttpPostError when none did. */
export function post(url: URL, body: Buffer | string, options: PostOptions): Promise<PostAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const transport = url.protocol === 'https:' ? https : http;
  // Where, in the log: the origin and path, never a query string or credentials the URL may hold.
  const where = `${url.origin}${url.pathname}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (error: HttpPostError | undefined, answer?: PostAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) {
        request.destroy();
        reject(error);
      } else resolve(answer as PostAnswer);
    };
    const request = transport.request(url, {
      method: 'POST',
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length), ...options.headers },
    });
    const timer = setTimeout(() => done(new HttpPostError('timeout', `no answer from ${where} within ${options.timeout} ms`)), options.timeout);
    request.on('error', (error: NodeJS.ErrnoException) => done(new HttpPostError('network', `${where}: ${error.code ?? error.message}`)));
    request.on('response', (response) => {
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > options.maxBody) return done(new HttpPostError('too-large', `${where} answered ${declared} bytes, more than ${options.maxBody}`));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBody) done(new HttpPostError('too-large', `${where} answered more than ${options.maxBody} bytes`));
        else chunks.push(chunk);
      });
      response.on('error', (error: NodeJS.ErrnoException) => done(new HttpPostError('network', `${where}: ${error.code ?? error.message}`)));
      response.on('end', () => done(undefined, { status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks, size) }));
    });
    request.end(bytes);
  });
}

/** The URL of a backend option, checked at start: http:// or https:// only. */
export function backendUrl(text: string, option: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`${option} is not a URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`${option} must be an http:// or https:// URL, got ${url.protocol}//`);
  return url;
}
