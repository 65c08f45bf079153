// Presence: who is in a topic. The members themselves are never stored away
// from the connection: a question to every process gathers them (fleet.ts).
// What travels is the change — a member joined or left — for topics under
// the presence prefixes, as a presence publication on the topic itself, so
// it keeps its order with the topic's data and reaches every process that
// has subscribers of it.

/** Most bytes of JSON in a connection's info object. */
export const MAX_INFO_BYTES = 2048;

export interface PresenceEvent {
  type: 'join' | 'leave';
  client: string;
  user: string | undefined;
  info: Record<string, unknown> | undefined;
}

/** Which topics announce joins and leaves: those under one of the prefixes ("*": every topic), while not too large. */
export class PresenceRule {
  private readonly all: boolean;
  private readonly prefixes: readonly string[];

  constructor(
    prefixes: readonly string[],
    /** A topic with more subscribers than this in one process announces no more joins and leaves from it. */
    readonly maxMembers: number,
  ) {
    this.all = prefixes.includes('*');
    this.prefixes = prefixes.filter((p) => p !== '*');
  }

  covers(topic: string): boolean {
    return this.all || this.prefixes.some((p) => topic.startsWith(p));
  }

  get any(): boolean {
    return this.all || this.prefixes.length > 0;
  }
}

export function encodePresence(event: PresenceEvent): Buffer {
  return Buffer.from(JSON.stringify(event), 'utf8');
}

export function decodePresence(bytes: Buffer): PresenceEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if ((v.type !== 'join' && v.type !== 'leave') || typeof v.client !== 'string') return undefined;
  const info = typeof v.info === 'object' && v.info !== null && !Array.isArray(v.info) ? (v.info as Record<string, unknown>) : undefined;
  return { type: v.type, client: v.client, user: typeof v.user === 'string' ? v.user : undefined, info };
}
