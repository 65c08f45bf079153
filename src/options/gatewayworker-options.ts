// GatewayWorker mode's options (they join serverOptions after the gateway's):
// wssd registers with a GatewayWorker Register as one of its Gateways and
// speaks GatewayProtocol to the BusinessWorkers and GatewayClients on a LAN
// address, as GatewayWorker's Gateway does with `registerAddress`,
// `secretKey`, `lanIp` + `startPort`, `router` and its client heartbeat
// (`pingInterval`, `pingNotResponseLimit`, `pingData`). Resolved here into
// one object the role reads (gatewayworker/gateway-role.ts).
import { isIPv4 } from 'node:net';
import { ConfigError, naming, option } from '../config-error.js';
import { choice, integer, list, text, type Resolved } from './declaration.js';

export const gatewayWorkerOptions = {
  gatewayRegister: list({
    flag: { name: 'gateway-register', arg: 'HOST:PORT', commas: 'everywhere' },
    help: "GatewayWorker mode: register as a Gateway with this Register (its address, as in the application's registerAddress); repeat for several",
    shows: 'off',
  }),
  gatewaySecret: text({
    flag: { name: 'gateway-secret', arg: 'KEY' },
    help: "GatewayWorker mode: the application's secretKey, for the Register, the BusinessWorkers and GatewayClient. WSSD_GATEWAY_SECRET keeps it out of the process list",
    shows: 'none (no key, as GatewayWorker by default)',
  }),
  gatewayLan: text({
    default: '127.0.0.1:2000',
    flag: { name: 'gateway-lan', arg: 'IPv4:PORT' },
    help: "GatewayWorker mode: the LAN address BusinessWorkers and GatewayClients reach this Gateway at (lanIp:startPort); with --workers, worker i listens on PORT+i. Client ids carry it",
  }),
  gatewayLanListen: text({
    flag: { name: 'gateway-lan-listen', arg: 'ADDR' },
    help: 'GatewayWorker mode: the address the LAN port binds to, when not the LAN address itself (0.0.0.0 behind NAT)',
    shows: 'the --gateway-lan address',
  }),
  gatewayRouter: choice({
    choices: ['least-connections', 'random'],
    default: 'least-connections',
    flag: { name: 'gateway-router', arg: 'least-connections|random' },
    help: "GatewayWorker mode: which BusinessWorker a new client's events go to; a client then stays with it while it is connected (GatewayWorker's routerBind)",
  }),
  gatewayPingInterval: integer({
    min: 0,
    default: 0,
    flag: { name: 'gateway-ping-interval', arg: 'MS' },
    help: "GatewayWorker mode: the Gateway's own client heartbeat (pingInterval, in ms here): send --gateway-ping-data to clients silent for this long; 0 = off",
  }),
  gatewayPingLimit: integer({
    min: 0,
    default: 0,
    flag: { name: 'gateway-ping-limit', arg: 'N' },
    help: 'GatewayWorker mode (pingNotResponseLimit): close a client that sent no message for N ping intervals; 0 = never',
  }),
  gatewayPingData: text({
    default: '',
    flag: { name: 'gateway-ping-data', arg: 'TEXT' },
    help: 'GatewayWorker mode (pingData): the text message the heartbeat sends; empty = send nothing (only --gateway-ping-limit closes)',
    shows: 'empty',
  }),
  gatewayMaxInner: integer({
    min: 1,
    default: 1024,
    flag: { name: 'gateway-max-inner', arg: 'N' },
    help: 'GatewayWorker mode: BusinessWorker and GatewayClient connections at once on the LAN port; past it a new one is closed',
  }),
  gatewayMaxPacket: integer({
    min: 1,
    default: 10 * 1024 * 1024,
    flag: { name: 'gateway-max-packet', arg: 'N' },
    help: "GatewayWorker mode: largest GatewayProtocol packet, in bytes (GatewayWorker's maxPackageSize); a larger one closes its connection",
  }),
  gatewayMaxWorkerBuffer: integer({
    min: 1,
    default: 10_240_000,
    flag: { name: 'gateway-max-worker-buffer', arg: 'N' },
    help: "GatewayWorker mode: bytes of client events waiting to be written to one BusinessWorker (sendToWorkerBufferSize); past it an event is dropped and counted",
  }),
  gatewayLanOffset: integer({
    min: 0,
    default: 0,
    help: 'added to the --gateway-lan port: a worker of --workers is given its index',
  }),
};

type Declared = typeof gatewayWorkerOptions;

export interface RegisterAddress {
  host: string;
  port: number;
}

/** GatewayWorker mode, resolved: what the role needs. */
export interface ResolvedGatewayWorker {
  registers: RegisterAddress[];
  /** The secretKey; '' when none (every inner connection is then authorized at once). */
  secret: string;
  /** The LAN address: where this process's BusinessWorkers and GatewayClients connect, and the first 12 hex digits of its client ids. */
  lanIp: string;
  lanPort: number;
  /** Where the LAN port binds. */
  listenHost: string;
  router: 'least-connections' | 'random';
  pingInterval: number;
  pingLimit: number;
  pingData: string;
  maxInner: number;
  maxPacket: number;
  maxWorkerBuffer: number;
  /** The LAN address and port as 12 hex digits: this process's node. */
  node: string;
}

/** GatewayWorker mode's options checked together; undefined when no Register is given (the mode is off). */
export function resolveGatewayWorker(declared: Resolved<Declared>, node: string | undefined): ResolvedGatewayWorker | undefined {
  const given = declared.gatewayRegister ?? [];
  if (given.length === 0) return undefined;
  const registers = given.map((address) => hostPort('gatewayRegister', address));
  const lan = hostPort('gatewayLan', declared.gatewayLan);
  // BusinessWorkers find a client's Gateway by the address its client id carries: a canonical IPv4 literal.
  if (!isIPv4(lan.host) || lan.host === '0.0.0.0') {
    throw new ConfigError(naming`${option('gatewayLan')} must be the IPv4 address BusinessWorkers reach (as GatewayWorker's lanIp), got ${lan.host}`);
  }
  const lanPort = lan.port + declared.gatewayLanOffset;
  if (lanPort > 65535) throw new ConfigError(naming`${option('gatewayLan')}: port ${lan.port} + worker ${declared.gatewayLanOffset} is past 65535`);
  // The first 12 hex digits of a GatewayWorker client id: the LAN address and port (pack('Nn')).
  const lanNode = Buffer.from([...lan.host.split('.').map(Number), lanPort >> 8, lanPort & 0xff]).toString('hex');
  if (node !== undefined && node !== lanNode) throw new ConfigError(naming`${option('node')} is the LAN address in GatewayWorker mode (${lanNode}); leave it out`);
  if (declared.gatewayPingLimit > 0 && declared.gatewayPingInterval === 0) throw new ConfigError(naming`${option('gatewayPingLimit')} needs ${option('gatewayPingInterval')}`);
  return {
    registers,
    secret: declared.gatewaySecret ?? '',
    lanIp: lan.host,
    lanPort,
    listenHost: declared.gatewayLanListen ?? lan.host,
    router: declared.gatewayRouter === 'random' ? 'random' : 'least-connections',
    pingInterval: declared.gatewayPingInterval,
    pingLimit: declared.gatewayPingLimit,
    pingData: declared.gatewayPingData,
    maxInner: declared.gatewayMaxInner,
    maxPacket: declared.gatewayMaxPacket,
    maxWorkerBuffer: declared.gatewayMaxWorkerBuffer,
    node: lanNode,
  };
}

function hostPort(name: string, address: string): RegisterAddress {
  const match = /^(.+):([0-9]{1,5})$/.exec(address.trim());
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port < 1 || port > 65535) throw new ConfigError(naming`${option(name)} is HOST:PORT, got ${JSON.stringify(address)}`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}
