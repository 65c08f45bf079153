/**
 * A refused handshake: the HTTP status and the one-line reason that go back
 * to the client, plus any header the RFC requires with that status (Allow
 * with 405, Sec-WebSocket-Version with 426).
 */
export class HandshakeError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, reason: string, headers: Record<string, string> = {}) {
    super(reason);
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = headers;
  }
}
