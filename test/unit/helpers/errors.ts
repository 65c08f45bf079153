import { expect } from 'vitest';
import { HandshakeError, ProtocolError } from '../../../src/protocol/errors.js';

/** What fn throws; undefined when it returns. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Runs fn, which must throw a ProtocolError with this string code and close code. */
export function expectProtocolError(fn: () => unknown, code: string, closeCode: number, label = ''): ProtocolError {
  const thrown = thrownBy(fn);
  expect(thrown, `${label} should throw ${code}`).toBeInstanceOf(ProtocolError);
  const e = thrown as ProtocolError;
  expect({ code: e.code, closeCode: e.closeCode }, label).toEqual({ code, closeCode });
  return e;
}

/** Runs fn, which must throw a HandshakeError with this string code and HTTP status. */
export function expectHandshakeError(fn: () => unknown, code: string, status: number, label = ''): HandshakeError {
  const thrown = thrownBy(fn);
  expect(thrown, `${label} should throw ${code}`).toBeInstanceOf(HandshakeError);
  const e = thrown as HandshakeError;
  expect({ code: e.code, status: e.status }, label).toEqual({ code, status });
  return e;
}
