// The bus a server uses, chosen from its options: the one given (a Broker of
// the application's), Redis when a URL is given, else this process alone.
// --workers hands its ClusterBroker in as `broker` (cli/main.ts).
import { LocalBroker, type Broker } from './broker.js';
import { RedisBroker, type RedisBrokerOptions } from './redis-broker.js';

/** The options a broker is built from, resolved (options/server-options.ts). */
export interface BrokerSettings {
  broker: Broker | undefined;
  redis: string | undefined;
  redisPrefix: string;
  /** For rediss://: the CA read from redisCa, and the name to check. */
  redisTls: RedisBrokerOptions['tls'];
  historySize: number;
  historyPrefix: readonly string[] | undefined;
  historyTtl: number;
  /** The largest message: a publication through Redis can be as large, so Redis's replies are capped above it. */
  maxPayload: number;
}

export function brokerFromOptions(o: BrokerSettings): Broker {
  if (o.broker !== undefined) return o.broker;
  if (o.redis === undefined) return new LocalBroker();
  return new RedisBroker({
    url: o.redis,
    prefix: o.redisPrefix,
    historySize: o.historySize,
    historyPrefixes: o.historyPrefix,
    historyTtl: o.historyTtl,
    tls: o.redisTls,
    maxPayload: o.maxPayload,
  });
}
