// Case 10's load generator: a backend's calls to the server API, from the
// bench's process, over kept-alive HTTP/1.1 connections (node:http's Agent,
// as a Node backend would make them), each answer checked.
import http from 'node:http';
import { monoMs } from '../harness/clock.js';
import { API_KEY } from './api-requests.js';

export class ApiClient {
  private readonly agent: http.Agent;

  /** At most `connections` kept-alive connections to the API on `port`. */
  constructor(
    private readonly port: number,
    connections: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  /**
   * POSTs `body` to `path`; resolves with the time it took, in ms, from the
   * request's making to its answer's end — the request is written as soon as
   * a kept-alive connection is free (on the next tick when one is). Rejects
   * on anything but a 200, or a 200 whose body holds an error (a batch
   * answers 200 with an error per refused command): a bench that counted
   * refusals would measure nothing.
   */
  post(path: string, body: string, startedAt = monoMs()): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', reject);
          res.on('end', () => {
            const ms = monoMs() - startedAt;
            if (res.statusCode !== 200 || text.includes('"error"')) reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
            else resolve(ms);
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
