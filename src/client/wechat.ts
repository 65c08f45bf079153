// wssd/client/wechat: a Transport over WeChat mini-programs' wx.connectSocket, for
// `new WssdClient(url, { transport: wechatTransport(wx) })`.
//
// A SocketTask is not a WebSocket, and its documented callbacks are taken at their word:
// close() may come before the socket opened (and may then fail, or be followed by an open
// after all), send() fails asynchronously through `fail`, onClose may come without onOpen, and
// connectSocket itself may fail without any onClose. Whatever happens, the client hears exactly
// one onclose, last, and nothing after it.
import { ClientError, CloseCode, ErrorCode } from './wssd-protocol.js';
import type { Transport, TransportFactory } from './types.js';

interface Callbacks {
  success?: () => void;
  fail?: (result: { errMsg: string }) => void;
}

/** The part of a SocketTask this transport uses. */
export interface SocketTask {
  onOpen(callback: (result: unknown) => void): void;
  onMessage(callback: (result: { data: string | ArrayBuffer }) => void): void;
  onClose(callback: (result: { code: number; reason: string }) => void): void;
  onError(callback: (result: { errMsg: string }) => void): void;
  send(options: { data: string | ArrayBuffer } & Callbacks): void;
  close(options: { code?: number; reason?: string } & Callbacks): void;
}

/** The part of `wx` this transport uses. */
export interface WechatApi {
  connectSocket(options: { url: string; protocols?: string[] } & Callbacks): SocketTask;
}

/** The subprotocol the server chose, from onOpen's `header` (base library 2.0.0+); undefined when it is not told. */
function subprotocol(result: unknown): string | undefined {
  const header = (result as { header?: unknown } | undefined)?.header;
  if (typeof header !== 'object' || header === null) return undefined;
  const entry = Object.entries(header).find(([name]) => name.toLowerCase() === 'sec-websocket-protocol');
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

export function wechatTransport(wx: WechatApi): TransportFactory {
  return (url, protocols) => {
    let ended = false;
    let opened = false;
    let closing: { code: number; reason: string } | undefined;
    const end = (code: number, reason: string): void => {
      if (ended) return;
      ended = true;
      t.onclose?.(code, reason);
    };
    const error = (code: string, message: string): void => {
      if (!ended) t.onerror?.(new ClientError(code, message));
    };
    // A close that fails (before the open, or on a socket already broken) ends the transport here,
    // since no onClose may follow it.
    const closeTask = (): void => {
      const { code, reason } = closing as { code: number; reason: string };
      const fail = (): void => end(code, reason);
      try {
        task.close({ code, reason, fail });
      } catch {
        fail();
      }
    };
    const t: Transport = {
      send(text) {
        if (ended || closing !== undefined) return;
        // A send that fails means a broken connection: close it, and let the client reconnect.
        task.send({
          data: text,
          fail: ({ errMsg }) => {
            error(ErrorCode.TransportError, `send failed: ${errMsg}`);
            end(CloseCode.Abnormal, `send failed: ${errMsg}`);
            closing ??= { code: CloseCode.Normal, reason: 'send failed' };
            closeTask();
          },
        });
      },
      close(code = CloseCode.Normal, reason = '') {
        if (ended || closing !== undefined) return;
        closing = { code, reason };
        closeTask();
        // Before the open, WeChat may refuse the close or stay silent: the transport ends now, and
        // the socket, should it open after all, is closed then.
        if (!opened) end(code, reason);
      },
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    const task = wx.connectSocket({
      url,
      protocols,
      // Deferred: a fail called from within connectSocket would come before the client has set its hooks.
      fail: ({ errMsg }) =>
        void Promise.resolve().then(() => {
          error(ErrorCode.TransportError, errMsg);
          end(CloseCode.Abnormal, errMsg);
        }),
    });
    task.onOpen((result) => {
      if (opened) return;
      opened = true;
      if (closing !== undefined) closeTask();
      else if (!ended) t.onopen?.(subprotocol(result));
    });
    task.onMessage(({ data }) => {
      if (ended || closing !== undefined) return;
      if (typeof data === 'string') t.onmessage?.(data);
      else error(ErrorCode.ProtocolError, 'a binary frame: wssd.v1 is text only');
    });
    task.onClose(({ code, reason }) => end(code, reason));
    task.onError(({ errMsg }) => error(ErrorCode.TransportError, errMsg));
    return t;
  };
}
