// The Pipeline stream: the per-session calls as messages on one long-lived stream per client, each
// answered by call_id with what its unary method would answer. A unary call costs both sides an
// HTTP/2 stream, headers, trailers and grpc-js' call objects; a message here costs a frame. Each
// call is authorized against the stream's metadata, counted, logged and bounded like a unary call.
import * as grpc from '@grpc/grpc-js';
import { SessionError } from '../proto/errors.ts';
import type { CreateRequest__Output } from '../proto/generated/stickless/session/v1/CreateRequest.ts';
import type { DeleteRequest__Output } from '../proto/generated/stickless/session/v1/DeleteRequest.ts';
import type { DeleteResponse } from '../proto/generated/stickless/session/v1/DeleteResponse.ts';
import type { GetRequest__Output } from '../proto/generated/stickless/session/v1/GetRequest.ts';
import type { GetResponse } from '../proto/generated/stickless/session/v1/GetResponse.ts';
import type { PatchRequest__Output } from '../proto/generated/stickless/session/v1/PatchRequest.ts';
import type { PipelineReply } from '../proto/generated/stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest__Output } from '../proto/generated/stickless/session/v1/PipelineRequest.ts';
import type { PutRequest__Output } from '../proto/generated/stickless/session/v1/PutRequest.ts';
import type { RegenerateRequest__Output } from '../proto/generated/stickless/session/v1/RegenerateRequest.ts';
import type { SessionResponse } from '../proto/generated/stickless/session/v1/SessionResponse.ts';
import type { TouchRequest__Output } from '../proto/generated/stickless/session/v1/TouchRequest.ts';
import type { TouchResponse } from '../proto/generated/stickless/session/v1/TouchResponse.ts';
import { asSessionError, grpcStatusOf, toGrpcStatus } from './errors.ts';
import { withRpcLogContext } from './logger.ts';
import type { ServerMetrics } from './metrics.ts';

/** One call's work: validate, authorize against the caller's metadata, run, shape the reply. */
export type CallHandler<Req, Res> = (request: Req, metadata: grpc.Metadata) => Promise<Res>;

export interface SessionCalls {
  Create: CallHandler<CreateRequest__Output, SessionResponse>;
  Get: CallHandler<GetRequest__Output, GetResponse>;
  Put: CallHandler<PutRequest__Output, SessionResponse>;
  Patch: CallHandler<PatchRequest__Output, SessionResponse>;
  Delete: CallHandler<DeleteRequest__Output, DeleteResponse>;
  Touch: CallHandler<TouchRequest__Output, TouchResponse>;
  Regenerate: CallHandler<RegenerateRequest__Output, SessionResponse>;
}

export interface PipelineOptions {
  /** Calls one stream may have in flight (running, or answered and not yet read by the client). */
  maxPipelinedCalls: number;
  /** Counts and logs one call's outcome (session-service.ts), passing it through. */
  settle: <Res>(method: string, run: () => Promise<Res>) => Promise<Res>;
}

type PipelineCall = grpc.ServerDuplexStream<PipelineRequest__Output, PipelineReply>;
type CallName = NonNullable<PipelineRequest__Output['call']>;
type ResultName = NonNullable<PipelineReply['result']>;

/** Each member of the request's `call` oneof: the method it runs and the reply member it answers in. */
const ROUTES: Readonly<Record<CallName, readonly [keyof SessionCalls, ResultName]>> = {
  create: ['Create', 'session'],
  get: ['Get', 'get'],
  put: ['Put', 'session'],
  patch: ['Patch', 'session'],
  delete: ['Delete', 'delete'],
  touch: ['Touch', 'touch'],
  regenerate: ['Regenerate', 'session'],
};

export class PipelineRegistry {
  readonly calls: SessionCalls;
  readonly options: PipelineOptions;
  readonly metrics: ServerMetrics | undefined;
  #streams = new Set<PipelineStream>();
  #draining = false;

  constructor(calls: SessionCalls, options: PipelineOptions, metrics?: ServerMetrics) {
    this.calls = calls;
    this.options = options;
    this.metrics = metrics;
  }

  start(call: PipelineCall): void {
    const stream = new PipelineStream(this, call, () => {
      this.#streams.delete(stream);
      this.metrics?.addPipelineStreams(-1);
    });
    this.#streams.add(stream);
    this.metrics?.addPipelineStreams(1);
    if (this.#draining) stream.drain();
  }

  /** At shutdown: every stream answers what it has received, refuses what comes after, and ends. */
  endAll(): void {
    this.#draining = true;
    for (const stream of this.#streams) stream.drain();
  }
}

class PipelineStream {
  #registry: PipelineRegistry;
  #call: PipelineCall;
  #onDone: () => void;
  /** Ids of the calls running now. */
  #running = new Set<number>();
  /** No new call is run: the client half-closed the stream, or sessiond is shutting down. */
  #draining = false;
  #done = false;

  constructor(registry: PipelineRegistry, call: PipelineCall, onDone: () => void) {
    this.#registry = registry;
    this.#call = call;
    this.#onDone = onDone;
    call.on('data', (request: PipelineRequest__Output) => this.#onRequest(request));
    call.on('end', () => this.drain());
    call.on('cancelled', () => this.#finish());
    call.on('close', () => this.#finish());
    call.on('error', () => this.#finish());
    // The headers go out now, before any answer: a client that holds its calls until they arrive
    // knows that nothing it held was applied if the stream fails first (see the contract).
    call.sendMetadata(new grpc.Metadata());
  }

  /** Answers every call already running, then ends the stream (OK). Calls received meanwhile are refused. */
  drain(): void {
    this.#draining = true;
    if (this.#running.size === 0) this.#end();
  }

  #onRequest(request: PipelineRequest__Output): void {
    if (this.#done) return;
    const id = request.callId;
    const { maxPipelinedCalls } = this.#registry.options;
    // A client that stops reading its answers while it keeps calling would grow sessiond's memory.
    const unread = this.#call.writableLength;
    if (unread >= maxPipelinedCalls) {
      return this.#fail(new SessionError('SESS_ERR_LIMIT_EXCEEDED', `Pipeline: ${unread} answers wait unread by the client, the most maxPipelinedCalls (${maxPipelinedCalls}) allows; the stream ends, read the answers`));
    }
    if (this.#draining) {
      return this.#refuse(id, new SessionError('SESS_ERR_SERVICE_UNAVAILABLE', 'sessiond is shutting down or the stream is closing: this call was not applied; send it again on a new stream'));
    }
    const route = request.call === undefined ? undefined : ROUTES[request.call];
    if (!route) return this.#refuse(id, new SessionError('SESS_ERR_INVALID_ARGUMENT', 'call: expected one of create, get, put, patch, delete, touch, regenerate'));
    if (this.#running.has(id)) return this.#refuse(id, new SessionError('SESS_ERR_INVALID_ARGUMENT', `call_id ${id}: a call with this id is already in flight on this stream; nothing was applied`));
    if (this.#running.size + this.#call.writableLength >= maxPipelinedCalls) {
      return this.#refuse(id, new SessionError('SESS_ERR_LIMIT_EXCEEDED', `the stream has ${this.#running.size} calls in flight and ${this.#call.writableLength} answers unread, the most maxPipelinedCalls (${maxPipelinedCalls}) allows; this call was not applied`));
    }
    const [method, result] = route;
    const handler = this.#registry.calls[method] as CallHandler<unknown, object>;
    const body = request[request.call!];
    const metadata = this.#call.metadata;
    this.#running.add(id);
    withRpcLogContext(callMetadata(request, metadata), () => this.#registry.options.settle(method, () => handler(body, metadata))).then(
      (reply) => this.#answer(id, { callId: id, [result]: reply }),
      (error: unknown) => this.#answer(id, errorReply(id, error)),
    );
  }

  #answer(id: number, reply: PipelineReply): void {
    this.#running.delete(id);
    if (this.#done) return;
    this.#call.write(reply);
    if (this.#draining && this.#running.size === 0) this.#end();
  }

  /** Answers a call that was not run. */
  #refuse(id: number, error: SessionError): void {
    this.#call.write(errorReply(id, error));
  }

  #end(): void {
    if (this.#done) return;
    this.#call.end();
    this.#finish();
  }

  #fail(error: SessionError): void {
    if (this.#done) return;
    this.#call.emit('error', toGrpcStatus(error));
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onDone();
  }
}

/** What a unary call's status and trailers would carry, as a reply message. */
function errorReply(id: number, error: unknown): PipelineReply {
  const { code, message, currentVersion } = asSessionError(error);
  return { callId: id, error: { status: grpcStatusOf(code), code, message, ...(currentVersion === undefined ? {} : { currentVersion }) } };
}

/** The call's own request id and trace context, else the stream's: what its log lines carry. */
function callMetadata(request: PipelineRequest__Output, stream: grpc.Metadata): { get(key: string): unknown[] } {
  return {
    get(key: string): unknown[] {
      const own = key === 'x-request-id' ? request.requestId : key === 'traceparent' ? request.traceparent : key === 'tracestate' ? request.tracestate : '';
      return own !== '' ? [own] : stream.get(key);
    },
  };
}
