import { expect } from 'vitest';
import { ProtocolError } from '../../../src/protocol/errors.js';

/** Runs fn, which must throw a ProtocolError with this string code and close code. */
export function expectProtocolError(fn: () => unknown, code: string, closeCode: number, label = ''): ProtocolError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${label} should throw ${code}`).toBeInstanceOf(ProtocolError);
  const e = thrown as ProtocolError;
  expect({ code: e.code, closeCode: e.closeCode }, label).toEqual({ code, closeCode });
  return e;
}
