// pino for sessiond: JSON lines, fixed field names, and session ids, tokens and passwords redacted
// wherever they might appear, so a log never hands out a live session.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
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
    // Inside an RPC (withRpcLogContext), every line carries its reqId and traceId.
    mixin: () => rpcLogContext.getStore() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}

/** What each log line written while serving one RPC carries. */
export interface RpcLogFields {
  /** The caller's `x-request-id` metadata when it sent a sane one, else a new UUID. */
  reqId: string;
  /** Trace id of the caller's W3C `traceparent` metadata (the app's request, through the client). */
  traceId?: string;
  /** The caller's span id from that traceparent (the client's span, when the app has an OpenTelemetry SDK). */
  parentSpanId?: string;
}

const rpcLogContext = new AsyncLocalStorage<RpcLogFields>();
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The log fields of a call from its metadata (grpc.Metadata or anything with `get(key)`). */
export function rpcLogFields(metadata: { get(key: string): unknown[] } | undefined): RpcLogFields {
  const first = (key: string): string | undefined => {
    const value = metadata?.get(key)[0];
    return typeof value === 'string' ? value : undefined;
  };
  const given = first('x-request-id');
  const fields: RpcLogFields = { reqId: given !== undefined && REQUEST_ID.test(given) ? given : randomUUID() };
  const trace = TRACEPARENT.exec(first('traceparent')?.trim().toLowerCase() ?? '');
  if (trace && !/^0+$/.test(trace[1]!) && !/^0+$/.test(trace[2]!)) {
    fields.traceId = trace[1]!;
    fields.parentSpanId = trace[2]!;
  }
  return fields;
}

/** Runs one RPC's handler so that every line any logger writes meanwhile carries the call's reqId and traceId. */
export function withRpcLogContext<T>(metadata: { get(key: string): unknown[] } | undefined, handler: () => T): T {
  return rpcLogContext.run(rpcLogFields(metadata), handler);
}
