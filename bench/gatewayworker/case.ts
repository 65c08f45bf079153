// Case 12 as `npm run bench` runs it: GatewayWorker mode beside the PHP
// system it replaces. Its settings (full and quick), and its tables: 12, a
// chat through the PHP Gateway and through wssd as the Gateway (same Register
// and BusinessWorker, chat.ts); 12b, wssd ÷ PHP and the issue's targets for
// it; 12c, the FAQ's method 2 (Workerman terminating TLS) beside wssd's echo
// over TLS and the bare node:tls echo (method2.ts); 12d, the ratios and the
// target for it.
//
// Needs php-cli with pcntl and posix (PHP=…) and the vendored Workerman and
// GatewayWorker (WSSD_WORKERMAN_DIR=…, default test/peers/workerman);
// without them the case says why and is skipped.
import { formatBytes, markdownTable, met, print } from '../harness/measure.js';
import type { Pinning } from '../harness/os.js';
import { benchChat, GATEWAY_LABELS, loadLabel, type ChatLoad, type ChatOptions, type GatewayKind } from './chat.js';
import { benchMethod2, ECHO_LABELS, type Method2Options } from './method2.js';
import { phpMissing, phpVersion } from './processes.js';

export interface GatewayWorkerCaseOptions {
  quick: boolean;
  pin: Pinning | undefined;
  pinNote: string;
  ca: Buffer;
}

/** The issue's targets: wssd as the Gateway ≥ 2× the PHP Gateway's deliveries/s at equal or lower Gateway CPU; "clearly ahead" of Workerman's TLS at small messages, read here as ≥ 1.5× its messages/s and ≤ 2/3 its CPU per message. */
export const GATEWAY_THROUGHPUT_TARGET = 2;
export const METHOD2_THROUGHPUT_TARGET = 1.5;
export const METHOD2_CPU_TARGET = 0.67;
/** "Small messages" of the method-2 target. */
export const SMALL_PAYLOADS = [32, 1024];

/** Measures and prints case 12; returns its figures for the JSON line. */
export async function runGatewayWorkerCase(options: GatewayWorkerCaseOptions): Promise<Record<string, unknown>> {
  const missing = phpMissing();
  if (missing !== undefined) {
    process.stdout.write(`\n### 12. GatewayWorker mode: skipped (${missing})\n`);
    return { skipped: missing };
  }
  const { quick, pin, ca } = options;
  const versions = phpVersion();
  const paced: ChatLoad = { kind: 'paced', rate: quick ? 500 : 1000, credit: 8 };
  const max: ChatLoad = { kind: 'max', window: 2 };
  const gateways: GatewayKind[] = quick ? ['php', 'wssd'] : ['php', 'php-accel', 'wssd', 'wssd-wss'];
  const chatOptions: ChatOptions = quick
    ? { clients: 100, groupSize: 20, size: 64, gateways, loads: [paced, max], businessWorkers: 1, rounds: 1, primeMs: 500, warmMs: 300, measureMs: 800, pin, ca }
    : { clients: 200, groupSize: 20, size: 64, gateways, loads: [paced, max], businessWorkers: 1, rounds: 3, primeMs: 1500, warmMs: 1000, measureMs: 3000, pin, ca };
  const chat = await benchChat(chatOptions);
  printChat(chat, chatOptions, options.pinNote, versions, quick);

  const method2Options: Method2Options = {
    payloads: [32, 1024, 64 * 1024],
    connections: 64,
    windowFor: (payload) => (payload <= 1024 ? 16 : 4),
    rounds: quick ? 1 : 3,
    warmMs: quick ? 150 : 400,
    measureMs: quick ? 600 : 3000,
    pin,
    ca,
  };
  const method2 = await benchMethod2(method2Options);
  printMethod2(method2, method2Options, options.pinNote, versions);
  return { chat: { ...chatOptions, ca: undefined, pin: undefined, ...chat }, method2: { ...method2Options, windowFor: undefined, ca: undefined, pin: undefined, ...method2 } };
}

const roundsNote = (rounds: number, measureMs: number): string => `median of ${rounds} round${rounds > 1 ? 's' : ''} × ${measureMs / 1000} s`;

function printChat(result: Awaited<ReturnType<typeof benchChat>>, o: ChatOptions, pinNote: string, versions: string, quick: boolean): void {
  print(
    `12. GatewayWorker chat: ${o.clients} clients in groups of ${o.groupSize}, ${o.size} B messages, Events::onMessage → Gateway::sendToGroup, the same Register and ${o.businessWorkers} BusinessWorker for every Gateway (${versions}; ${pinNote}, Register + BusinessWorker on the client's; ${roundsNote(o.rounds, o.measureMs)}${quick ? '; quick: fewer clients, a lower paced rate, no protocolAccelerate or wss:// rows' : ''})`,
    markdownTable(
      ['load', 'Gateway', 'msgs/s', 'deliveries/s', 'p50 ms', 'p99 ms', 'Gateway CPU %', 'Gateway µs/delivery', 'Gateway µs/msg', 'BusinessWorker CPU %', 'BusinessWorker µs/msg', 'client CPU %', 'other processes CPU %'],
      result.cells.map((c) => [c.load, GATEWAY_LABELS[c.gateway], c.messagesPerSec.toLocaleString('en'), c.deliveriesPerSec.toLocaleString('en'), c.p50Ms, c.p99Ms, c.gatewayCpuPct, c.gatewayUsPerDelivery, c.gatewayUsPerMessage, c.businessCpuPct, c.businessUsPerMessage, c.clientCpuPct, c.otherCpuPct]),
    ),
  );
  const held = result.cells.filter((c) => c.heldBackPct > 1);
  if (held.length > 0) process.stdout.write(`\n(Paced cells where the clients' credit held the sender back: ${held.map((c) => `${GATEWAY_LABELS[c.gateway]} ${c.heldBackPct} %`).join(', ')} of the window: the rate asked was not reached.)\n`);
  const rows: (string | number)[][] = [];
  for (const r of result.ratios) {
    const saturating = r.load === loadLabel(o.loads[o.loads.length - 1]);
    rows.push([`${r.load}: deliveries/s, wssd ÷ PHP`, r.throughput, r.throughputRounds.join(' / '), saturating ? `≥ ${GATEWAY_THROUGHPUT_TARGET}` : '', saturating ? met(r.throughput >= GATEWAY_THROUGHPUT_TARGET) : '']);
    rows.push([`${r.load}: Gateway CPU %, wssd ÷ PHP`, r.cpuPct, r.cpuPctRounds.join(' / '), saturating ? '≤ 1' : '', saturating ? met(r.cpuPct <= 1) : '']);
    rows.push([`${r.load}: Gateway CPU µs per delivery, wssd ÷ PHP`, r.usPerDelivery, r.usPerDeliveryRounds.join(' / '), '', '']);
  }
  print(
    `12b. wssd (ws://) as the Gateway ÷ the PHP Gateway (ws://), each ratio taken within a round, then the median; the target: ≥ ${GATEWAY_THROUGHPUT_TARGET}× the client-visible deliveries/s at equal or lower Gateway CPU`,
    markdownTable(['figure', 'this run', 'per round', 'target', ''], rows),
  );
}

function printMethod2(result: Awaited<ReturnType<typeof benchMethod2>>, o: Method2Options, pinNote: string, versions: string): void {
  print(
    `12c. The FAQ's method 2, Workerman terminating TLS (echo.php --tls, 1 worker) beside wssd's echo over TLS (1 process), and the floor of a TLS server on node (case 4's bare node:tls echo): binary echo, ${o.connections} connections (${versions}; ${pinNote}; ${roundsNote(o.rounds, o.measureMs)})`,
    markdownTable(
      ['payload', 'conns × window', 'server', 'msgs/s', 'MiB/s', 'server CPU µs/msg', 'server CPU %', 'client CPU %', 'p50 ms', 'p99 ms'],
      result.cells.map((c) => [formatBytes(c.payload), `${c.connections} × ${c.window}`, ECHO_LABELS[c.server], c.msgsPerSec.toLocaleString('en'), c.mibPerSec, c.serverCpuUsPerMsg, c.serverCpuPct, c.clientCpuPct, c.p50Ms, c.p99Ms]),
    ),
  );
  const rows: (string | number)[][] = [];
  for (const r of result.ratios) {
    const small = SMALL_PAYLOADS.includes(r.payload);
    rows.push([`${formatBytes(r.payload)}: msgs/s, wssd ÷ Workerman`, r.throughput, r.throughputRounds.join(' / '), small ? `≥ ${METHOD2_THROUGHPUT_TARGET}` : '', small ? met(r.throughput >= METHOD2_THROUGHPUT_TARGET) : '']);
    rows.push([`${formatBytes(r.payload)}: server CPU µs per message, wssd ÷ Workerman`, r.usPerMsg, r.usPerMsgRounds.join(' / '), small ? `≤ ${METHOD2_CPU_TARGET}` : '', small ? met(r.usPerMsg <= METHOD2_CPU_TARGET) : '']);
    rows.push([`${formatBytes(r.payload)}: server CPU µs per message, wssd ÷ bare node:tls echo`, r.vsBare, r.vsBareRounds.join(' / '), '', '']);
  }
  print(
    `12d. wssd ÷ Workerman's own TLS (and ÷ the bare node:tls echo), each ratio taken within a round, then the median; the target: "clearly ahead at small messages", read as ≥ ${METHOD2_THROUGHPUT_TARGET}× the messages/s and ≤ ${METHOD2_CPU_TARGET}× the CPU per message at ${SMALL_PAYLOADS.map(formatBytes).join(' and ')}`,
    markdownTable(['figure', 'this run', 'per round', 'target', ''], rows),
  );
}
