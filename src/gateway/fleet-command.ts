// A command of the fleet's verbs as it travels through the broker (pure): a
// JSON header, a line feed, then the data bytes as they are (JSON escapes
// every line feed, so the first one ends the header).
export type FleetCommand =
  /** Send `data` to one client (a send to a user travels as a publication on the user's route instead). */
  | { op: 'send'; client: string; binary: boolean; data: Buffer }
  /** Close the client, or every connection of the route's user, with this code and reason. */
  | { op: 'disconnect'; client?: string; code: number; reason: string }
  /** Subscribe the client, or every connection of the route's user, to a topic, or unsubscribe it. */
  | { op: 'subscribe' | 'unsubscribe'; client?: string; topic: string };

const LF = 0x0a;
const NO_DATA = Buffer.alloc(0);

export function encodeFleetCommand(command: FleetCommand): Buffer {
  const { data, ...header } = command.op === 'send' ? command : { ...command, data: NO_DATA };
  return Buffer.concat([Buffer.from(JSON.stringify(header), 'utf8'), Buffer.of(LF), data]);
}

/** The command, or undefined for bytes that are not one (another version's, or damaged). */
export function decodeFleetCommand(bytes: Buffer): FleetCommand | undefined {
  const end = bytes.indexOf(LF);
  if (end < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 0, end));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const h = header as Record<string, unknown>;
  const client = typeof h.client === 'string' ? h.client : undefined;
  switch (h.op) {
    case 'send':
      return client === undefined ? undefined : { op: 'send', client, binary: h.binary === true, data: bytes.subarray(end + 1) };
    case 'disconnect':
      return typeof h.code === 'number' && typeof h.reason === 'string' ? { op: 'disconnect', client, code: h.code, reason: h.reason } : undefined;
    case 'subscribe':
    case 'unsubscribe':
      return typeof h.topic === 'string' ? { op: h.op, client, topic: h.topic } : undefined;
    default:
      return undefined;
  }
}
