// appFrom(): the shapes an --app module may have (AppModule as named exports
// or as a default-exported object, or the older default function and
// onConnection), and the one-line errors for the others.
import { describe, expect, it } from 'vitest';
import { appFrom } from '../../../src/cli/app-module.js';
import { ConfigError } from '../../../src/config-error.js';
import { configMessage } from '../../../src/cli/main.js';
import type { AppModule } from '../../../src/index.js';

const init = (): void => {};
const verifyRequest = (): boolean => true;
const onConnection = (): void => {};

describe('appFrom', () => {
  it('named exports: init, verifyRequest, onConnection, each optional', () => {
    expect(appFrom({ init, verifyRequest, onConnection }, 'a.mjs')).toEqual({ init, verifyRequest, onConnection });
    expect(appFrom({ verifyRequest }, 'a.mjs')).toEqual({ verifyRequest });
    expect(appFrom({ init, other: 42 }, 'a.mjs')).toEqual({ init });
  });

  it('a default-exported object (or module.exports of a CommonJS module) gives the members', () => {
    expect(appFrom({ default: { init, onConnection } }, 'a.cjs')).toEqual({ init, onConnection });
  });

  it('the older forms: a default function, or onConnection, is called for every connection', () => {
    expect(appFrom({ default: onConnection }, 'a.mjs')).toEqual({ onConnection });
    expect(appFrom({ onConnection }, 'a.mjs')).toEqual({ onConnection });
    // Beside named init and verifyRequest, a default function is still onConnection.
    expect(appFrom({ default: onConnection, init }, 'a.mjs')).toEqual({ init, onConnection });
  });

  it('a member that is not a function, or no member at all: a ConfigError naming --app', () => {
    const error = (exports: Record<string, unknown>): string => {
      try {
        appFrom(exports, 'a.mjs');
      } catch (thrown) {
        expect(thrown).toBeInstanceOf(ConfigError);
        return configMessage(thrown as ConfigError);
      }
      throw new Error('expected a ConfigError');
    };
    expect(error({ verifyRequest: 'yes' })).toBe('--app a.mjs: its verifyRequest is not a function');
    expect(error({ default: { init: 1 } })).toBe('--app a.mjs: its init is not a function');
    expect(error({ answer: 42 })).toBe('--app a.mjs exports no function: a default function, or init, verifyRequest or onConnection');
    expect(error({ default: {} })).toMatch(/exports no function/);
  });
});

describe('AppModule (exported from wssd)', () => {
  it('types an app module: init gets the server, verifyRequest the request, onConnection all three (checked by tsc)', () => {
    const app = {
      async init(server) {
        server.on('subscription', () => {});
      },
      verifyRequest: (request) => (request.headers['x-token'] === 'good' ? true : { status: 401 }),
      onConnection(ws, request, server) {
        ws.send(`${request.path} ${server.connections.size}`);
      },
    } satisfies AppModule;
    expect(appFrom(app, 'typed.mjs')).toEqual(app);
  });
});
