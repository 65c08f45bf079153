// Who may subscribe to and publish on what, for a wssd.v1 client (pure).
// Patterns are exact topic names, or prefixes ending in '*' ("room:*"); a
// '*' alone is every topic. Matched at subscribe and publish time only.
import type { ClientIdentity } from '../../http/upgrade.js';

export function matches(patterns: readonly string[], topic: string): boolean {
  for (const pattern of patterns) {
    if (pattern.endsWith('*') ? topic.startsWith(pattern.slice(0, -1)) : topic === pattern) return true;
  }
  return false;
}

/** What every client may do, whoever it is: the server's prefixes (and demo: while the test page is on). */
export interface ClientRules {
  subscribe: readonly string[];
  publish: readonly string[];
}

/** Allowed without asking anyone: the token's allow claim, or the server's prefixes. */
export function maySubscribe(identity: ClientIdentity | undefined, rules: ClientRules, topic: string): boolean {
  return matches(rules.subscribe, topic) || (identity !== undefined && matches(identity.allow, topic));
}

export function mayPublish(identity: ClientIdentity | undefined, rules: ClientRules, topic: string): boolean {
  if (matches(rules.publish, topic)) return true;
  const claim = identity?.publish;
  return claim === true || (Array.isArray(claim) && matches(claim, topic));
}

/** Prefixes as the options give them ("room:", "*") turned into patterns. */
export function prefixPatterns(prefixes: readonly string[]): string[] {
  return prefixes.map((p) => (p === '*' || p.endsWith('*') ? p : `${p}*`));
}
