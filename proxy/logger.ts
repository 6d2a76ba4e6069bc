// pino for the proxy: JSON lines, one child per component, and redaction of everything that could
// carry a session or a credential (cookies, Set-Cookie, Authorization, tokens, keys).
import { pino, type Logger, type LoggerOptions } from 'pino';

export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
  'cookie',
  'setCookie',
  'authorization',
  'token',
  'keys',
  '*.token',
  '*.keys',
];

export function createLogger(level: LoggerOptions['level'] = 'info', destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = { name: 'stickless-proxy', level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
