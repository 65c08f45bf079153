// Logging at the edge: one human-readable line per event by default, JSON
// lines for log shippers. Nothing in the protocol core logs.
export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogFormat = 'text' | 'json';

export interface LogSink {
  write(line: string): unknown;
}

export function createLogger(format: LogFormat = 'text', sink: LogSink = process.stderr): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    const time = new Date().toISOString();
    if (format === 'json') {
      sink.write(JSON.stringify({ time, level, msg: message, ...fields }) + '\n');
      return;
    }
    let line = `${time} ${level.padEnd(5)} ${message}`;
    if (fields !== undefined) {
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${v}`;
    }
    sink.write(line + '\n');
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
