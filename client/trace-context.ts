// Trace context across the client's hop: the W3C `traceparent` (and `tracestate`) of the request
// that made a call rides to sessiond as gRPC metadata, and, when the app has an OpenTelemetry SDK,
// each logical call (retries included) is a CLIENT span. Only @opentelemetry/api is imported: without
// an SDK its tracer is a no-op and the incoming traceparent is passed on unchanged.
import type * as grpc from '@grpc/grpc-js';
import { context, isSpanContextValid, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
import { SessionError } from '../proto/errors.ts';

/** Trace context of one call, for when the app has no OpenTelemetry SDK doing it. */
export interface TraceCallOptions {
  /** W3C traceparent of the request this call serves (`00-<trace id>-<span id>-<flags>`). */
  traceparent?: string | undefined;
  /** W3C tracestate that goes with it. */
  tracestate?: string | undefined;
  /** The request's id (`x-request-id`, 1..128 printable ASCII), sent as metadata so sessiond logs it as `reqId`. */
  requestId?: string | undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const TRACER_NAME = 'stickless-client';

/** The trace headers of an incoming HTTP request as call options; empty when it has none (or a malformed one). */
export function traceCallOptions(headers: Record<string, string | string[] | undefined>): TraceCallOptions {
  const options: TraceCallOptions = {};
  const requestId = headers['x-request-id'];
  if (typeof requestId === 'string' && REQUEST_ID.test(requestId)) options.requestId = requestId;
  const traceparent = headers['traceparent'];
  if (typeof traceparent !== 'string' || !parseTraceparent(traceparent)) return options;
  options.traceparent = traceparent;
  const tracestate = headers['tracestate'];
  if (typeof tracestate === 'string' && tracestate.length <= 512) options.tracestate = tracestate;
  return options;
}

export function parseTraceparent(value: string): SpanContext | undefined {
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const spanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

/**
 * Runs one logical call inside a CLIENT span named `stickless.session.v1.SessionService/<Method>`,
 * child of the active OpenTelemetry context or else of `options.traceparent`, and puts the span's
 * trace context into `metadata`.
 */
export async function traceCall<T>(method: string, namespace: string, options: TraceCallOptions, metadata: grpc.Metadata, call: () => Promise<T>): Promise<T> {
  let parent: Context = context.active();
  const explicit = options.traceparent === undefined ? undefined : parseTraceparent(options.traceparent);
  if (explicit && !trace.getSpanContext(parent)) parent = trace.setSpanContext(parent, explicit);
  const rpcMethod = method[0]!.toUpperCase() + method.slice(1);
  const span = trace.getTracer(TRACER_NAME).startSpan(`stickless.session.v1.SessionService/${rpcMethod}`, {
    kind: SpanKind.CLIENT,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': 'stickless.session.v1.SessionService', 'rpc.method': rpcMethod, 'stickless.namespace': namespace },
  }, parent);
  if (options.requestId !== undefined && REQUEST_ID.test(options.requestId)) metadata.set('x-request-id', options.requestId);
  // A no-op tracer hands back the parent's context: the traceparent then passes through unchanged.
  const carried = span.spanContext();
  if (isSpanContextValid(carried)) {
    metadata.set('traceparent', formatTraceparent(carried));
    const tracestate = carried.traceState?.serialize() ?? (explicit ? options.tracestate : undefined);
    if (tracestate) metadata.set('tracestate', tracestate);
  }
  try {
    const result = await context.with(trace.setSpan(parent, span), call);
    span.setStatus({ code: SpanStatusCode.OK });
    return result;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof SessionError ? error.code : 'error' });
    if (error instanceof SessionError) span.setAttribute('stickless.error_code', error.code);
    throw error;
  } finally {
    span.end();
  }
}
