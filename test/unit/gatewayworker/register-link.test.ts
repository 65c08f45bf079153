// The lines a Gateway writes to a Register (spec §4.2), byte for byte as
// GatewayWorker's Gateway::registerAddress writes them.
import { describe, expect, it } from 'vitest';
import { gatewayConnectLine, REGISTER_PING_LINE } from '../../../src/gatewayworker/register-link.js';

describe('Register lines', () => {
  it('gateway_connect with the LAN address and the key, as PHP builds the string (a space after each comma)', () => {
    expect(gatewayConnectLine('127.0.0.1:25282', '')).toBe('{"event":"gateway_connect", "address":"127.0.0.1:25282", "secret_key":""}\n');
    expect(gatewayConnectLine('10.0.0.2:2000', 'k3y')).toBe('{"event":"gateway_connect", "address":"10.0.0.2:2000", "secret_key":"k3y"}\n');
  });

  it('a key with a quote or backslash is JSON-escaped, so the Register reads the key it was given', () => {
    const line = gatewayConnectLine('127.0.0.1:1', 'a"b\\c');
    expect(JSON.parse(line)).toEqual({ event: 'gateway_connect', address: '127.0.0.1:1', secret_key: 'a"b\\c' });
  });

  it('the ping line', () => {
    expect(REGISTER_PING_LINE).toBe('{"event":"ping"}\n');
  });
});
