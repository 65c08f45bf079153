// The server's own routes through the broker: a topic per user (every process
// that holds a connection of user U listens on U's route, so a send to U
// reaches exactly those processes) and one per process (a client id names its
// process, so a command for one client goes to that process alone). Route
// names start with U+0000, which no application topic may (topic-name.ts).
import { isWellFormed } from '../pubsub/topic-name.js';

/** Most bytes of UTF-8 in a user name. */
export const MAX_USER_BYTES = 256;

export function userRoute(user: string): string {
  return `\u0000u:${user}`;
}

/** The user a route is for, or undefined when it is not a user's route. */
export function userOfRoute(route: string): string | undefined {
  return route.startsWith('\u0000u:') ? route.slice(3) : undefined;
}

export function nodeRoute(node: string): string {
  return `\u0000n:${node}`;
}

/** Throws for a user name that cannot be one: not a string, empty, too long, not well-formed Unicode. */
export function checkUser(user: unknown): string {
  if (typeof user !== 'string' || user.length === 0) throw new RangeError('a user is a non-empty string');
  if (user.length > MAX_USER_BYTES || Buffer.byteLength(user, 'utf8') > MAX_USER_BYTES) throw new RangeError(`a user is at most ${MAX_USER_BYTES} bytes of UTF-8`);
  if (!isWellFormed(user)) throw new RangeError('a user is well-formed Unicode');
  return user;
}
