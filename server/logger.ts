// pino for sessiond: JSON lines, fixed field names, and session ids, tokens and passwords redacted
// wherever they might appear, so a log never hands out a live session.
import { pino, type Logger, type LoggerOptions } from 'pino';

export const REDACTED_PATHS = [
  'id', 'newId', 'sessionId', '*.id', '*.sessionId', 'token', '*.token',
  'authorization', '*.authorization', 'metadata.authorization', 'redisPassword', '*.redisPassword',
  'password', '*.password', 'namespaceTokens', '*.namespaceTokens',
];

export function createLogger(level: LoggerOptions['level'], destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'sessiond' },
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
