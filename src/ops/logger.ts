import { pino, type DestinationStream, type Level, type Logger } from 'pino';

/**
 * Paths never written to the operator log. Fastify's request serializer logs no headers or
 * bodies today; the redaction keeps that true if a serializer or a log call ever adds them.
 */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-amz-security-token"]',
  'req.body',
  'request.headers.authorization',
  'request.body',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'body',
  'password',
  '*.password',
];

export interface LoggerOptions {
  readonly level: Level | 'silent';
  /** Defaults to stderr: stdout carries only the listening lines and the one-time password. */
  readonly destination?: DestinationStream;
}

/** The operator log: JSON lines, written synchronously so nothing is lost on exit. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      name: 'enclave',
      base: { pid: process.pid },
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}
