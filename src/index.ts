// `wssd`: the server API. Everything exported here is stable; the sans-I/O
// protocol core has its own entry, `wssd/protocol` (protocol/index.ts), and
// the rest of src/ is internal.
export { createServer, WebSocketServer, type ListenAddress, type ServerEvents } from './server/websocket-server.js';
export { attach } from './server/attach.js';
export { Connection, ReadyState, type ConnectionEvents, type SendOptions, type SubscribeOptions, type UpgradeRequest } from './server/connection.js';
export { SendStatus } from './io/socket-writer.js';
export type { Clock, Timer } from './io/clock.js';
export { defaults, type ServerOptions } from './options/server-options.js';
export type { RequestVerdict, RequestVerifier, SubprotocolSelector } from './http/upgrade.js';
export { ConfigError } from './config-error.js';
export type { PerMessageDeflateOptions } from './extensions/permessage-deflate.js';
export { createLogger, type Logger, type LogFormat } from './telemetry/log.js';
export { CloseCode } from './protocol/constants.js';
export { ProtocolError, HandshakeError } from './protocol/errors.js';
export { LocalBroker, type Broker, type BrokerHost, type BrokerQuestion } from './pubsub/broker.js';
export type { PublishOptions, SlowSubscriberPolicy, ResumeResult } from './pubsub/pubsub.js';
export type { PublishData } from './pubsub/publication.js';
export { redisBroker, type RedisBrokerOptions } from './pubsub/redis-broker.js';
export type { StreamPosition } from './pubsub/history.js';
export type { AppModule } from './cli/app-module.js';
