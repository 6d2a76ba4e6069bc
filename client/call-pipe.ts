// The client's side of the Pipeline stream: per-session calls sent as messages on one long-lived
// stream and matched to their answers by call_id. Calls are held until sessiond's headers arrive, so
// a stream that fails before that applied nothing of them; a stream that breaks later leaves the
// calls it carried with an unknown outcome, exactly like unary calls whose connection dropped. An
// open stream keeps the process alive, so one idle for PIPE_IDLE_MS is half-closed: a process that
// never calls close() still exits, and the next call opens a new stream.
import * as grpc from '@grpc/grpc-js';
import { SessionError, isSessionErrorCode } from '../proto/errors.ts';
import type { PipelineReply__Output } from '../proto/generated/stickless/session/v1/PipelineReply.ts';
import type { PipelineRequest } from '../proto/generated/stickless/session/v1/PipelineRequest.ts';
import { fromGrpcError } from './errors.ts';
import { NOT_APPLIED_CODES } from './retry.ts';

/** The methods a Pipeline stream carries. */
export type PipeMethod = 'create' | 'get' | 'put' | 'patch' | 'delete' | 'touch' | 'regenerate';
export const PIPE_METHODS: ReadonlySet<string> = new Set<PipeMethod>(['create', 'get', 'put', 'patch', 'delete', 'touch', 'regenerate']);

export type PipelineCall = grpc.ClientDuplexStream<PipelineRequest, PipelineReply__Output>;

/** A stream with no call in flight for this long is half-closed. */
export const PIPE_IDLE_MS = 1000;

/**
 * Calls one stream has on the wire at most (sessiond's default `maxPipelinedCalls`); more wait in
 * the client, within their deadlines, as unary calls would wait for HTTP/2 streams.
 */
export const PIPE_MAX_IN_FLIGHT = 1024;

/** A call the pipe did not send because sessiond has no Pipeline method (an older sessiond): send it unary. */
export class PipelineUnsupported extends Error {}

interface Pending {
  id: number;
  message: PipelineRequest;
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

// The per-call metadata a unary call would carry, moved into the message.
const TRACE_KEYS = [['traceparent', 'traceparent'], ['tracestate', 'tracestate'], ['x-request-id', 'requestId']] as const;

export class CallPipe {
  #open: () => PipelineCall;
  #address: string;
  #stream: PipeStream | undefined;
  #nextId = 1;
  #unsupported = false;

  /** `open` starts a Pipeline stream with the client's metadata (its token). */
  constructor(open: () => PipelineCall, address: string) {
    this.#open = open;
    this.#address = address;
  }

  /** False once sessiond answered that it has no Pipeline method: calls go unary from then on. */
  get usable(): boolean {
    return !this.#unsupported;
  }

  /**
   * Sends one call; resolves with its answer (the unary method's reply message) or rejects with a
   * SessionError, or with PipelineUnsupported when it was not sent because sessiond lacks the method.
   */
  call(method: PipeMethod, request: object, metadata: grpc.Metadata, deadline: number): Promise<unknown> {
    const message: PipelineRequest = { callId: this.#nextId++, [method]: request };
    for (const [key, field] of TRACE_KEYS) {
      const value = metadata.get(key)[0];
      if (typeof value === 'string') message[field] = value;
    }
    if (!this.#stream || this.#stream.finished) {
      this.#stream = new PipeStream(this.#open(), this.#address, () => {
        this.#unsupported = true;
      });
    }
    return this.#stream.send(message, deadline);
  }

  /** Half-closes the stream: sessiond answers what it received and ends it. */
  close(): void {
    this.#stream?.close();
  }

  /** Cancels the stream; calls in flight reject. */
  destroy(): void {
    this.#stream?.destroy();
  }
}

class PipeStream {
  #call: PipelineCall;
  #address: string;
  #onUnsupported: () => void;
  /** Sessiond's headers arrived: calls go on the wire at once. */
  #ready = false;
  /** Calls not written yet: waiting for the headers, or for room (PIPE_MAX_IN_FLIGHT). */
  #held: Pending[] = [];
  /** Calls written, by call_id. */
  #sent = new Map<number, Pending>();
  /** Calls written whose deadline passed: still running in sessiond until their answer comes. */
  #orphans = new Set<number>();
  #error: grpc.ServiceError | undefined;
  #status: grpc.StatusObject | undefined;
  #idle: NodeJS.Timeout | undefined;
  /** No new call may be sent on it: it ended, or the client half-closed it. */
  finished = false;

  constructor(call: PipelineCall, address: string, onUnsupported: () => void) {
    this.#call = call;
    this.#address = address;
    this.#onUnsupported = onUnsupported;
    call.on('metadata', () => this.#onReady());
    call.on('data', (reply: PipelineReply__Output) => this.#onReply(reply));
    call.on('error', (error: grpc.ServiceError) => {
      this.#error = error;
    });
    // The status can come before answers still buffered in the stream: settle after the last one.
    call.on('status', (status: grpc.StatusObject) => {
      this.finished = true;
      this.#status = status;
    });
    call.on('end', () => this.#settle());
    call.on('close', () => this.#settle());
  }

  send(message: PipelineRequest, deadline: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = message.callId as number;
      const timer = setTimeout(() => this.#expire(pending), Math.max(0, deadline - Date.now()));
      const pending: Pending = { id, message, resolve, reject, timer };
      clearTimeout(this.#idle);
      this.#held.push(pending);
      this.#flush();
    });
  }

  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.#call.end();
  }

  destroy(): void {
    this.finished = true;
    this.#call.cancel();
  }

  #onReady(): void {
    this.#ready = true;
    this.#flush();
  }

  /** Writes held calls while the stream is ready and has room. */
  #flush(): void {
    while (this.#ready && this.#status === undefined && this.#held.length > 0 && this.#sent.size + this.#orphans.size < PIPE_MAX_IN_FLIGHT) {
      const pending = this.#held.shift()!;
      this.#sent.set(pending.id, pending);
      this.#call.write(pending.message);
    }
  }

  #onReply(reply: PipelineReply__Output): void {
    const pending = this.#sent.get(reply.callId);
    if (!pending) {
      // Its deadline passed: the caller has its answer already; its room is free now.
      if (this.#orphans.delete(reply.callId)) this.#flush();
      return;
    }
    this.#sent.delete(reply.callId);
    clearTimeout(pending.timer);
    this.#flush();
    this.#closeWhenIdle();
    if (reply.result === 'error' && reply.error) {
      const { code, message, currentVersion } = reply.error;
      const error = isSessionErrorCode(code)
        ? new SessionError(code, message, currentVersion === undefined ? {} : { currentVersion })
        : new SessionError('SESS_ERR_INTERNAL', `sessiond at ${this.#address} answered with an unknown error code ${JSON.stringify(code)}: ${message}`);
      pending.reject(error);
    } else if (reply.result !== undefined && reply.result !== 'error') {
      pending.resolve(reply[reply.result]);
    } else {
      pending.reject(new SessionError('SESS_ERR_INTERNAL', `sessiond at ${this.#address} answered call ${reply.callId} with no result`));
    }
  }

  #expire(pending: Pending): void {
    const held = this.#held.indexOf(pending);
    if (held >= 0) this.#held.splice(held, 1);
    else if (this.#sent.delete(pending.id)) this.#orphans.add(pending.id);
    else return;
    this.#closeWhenIdle();
    pending.reject(new SessionError(
      'SESS_ERR_DEADLINE_EXCEEDED',
      held >= 0
        ? `no answer from sessiond at ${this.#address} before the call's deadline (deadlineMs): it was still waiting to be sent (the stream not ready, or ${PIPE_MAX_IN_FLIGHT} calls in flight), nothing was sent`
        : `no answer from sessiond at ${this.#address} before the call's deadline (deadlineMs): a mutation may or may not have been applied`,
    ));
  }

  #closeWhenIdle(): void {
    // Orphans do not keep it open: their callers have gone, and a half-closed stream still gets their answers.
    if (this.#held.length > 0 || this.#sent.size > 0 || this.finished) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), PIPE_IDLE_MS);
  }

  #settle(): void {
    clearTimeout(this.#idle);
    const status = this.#status ?? { code: grpc.status.UNKNOWN, details: 'the stream closed without a status', metadata: new grpc.Metadata() };
    this.finished = true;
    if (status.code === grpc.status.UNIMPLEMENTED) this.#onUnsupported();
    const error = this.#error;
    for (const pending of this.#held) {
      clearTimeout(pending.timer);
      pending.reject(this.#heldFailure(status, error));
    }
    this.#held = [];
    for (const pending of this.#sent.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.#sentFailure(status, error));
    }
    this.#sent.clear();
  }

  /** Why a call that was never written failed: nothing of it was applied. */
  #heldFailure(status: grpc.StatusObject, error: grpc.ServiceError | undefined): Error {
    if (status.code === grpc.status.UNIMPLEMENTED) return new PipelineUnsupported('sessiond has no Pipeline method');
    const failure = error ? fromGrpcError(error, this.#address) : undefined;
    if (failure && (NOT_APPLIED_CODES.has(failure.code) || status.code === grpc.status.CANCELLED)) return failure;
    return new SessionError(
      'SESS_ERR_SERVICE_UNAVAILABLE',
      `the stream to sessiond at ${this.#address} ended before it was ready (gRPC status ${grpc.status[status.code]}: ${status.details}); nothing was sent`,
      failure ? { cause: failure } : {},
    );
  }

  /** Why a call that was written failed: sessiond answers every call it received before it ends a stream OK. */
  #sentFailure(status: grpc.StatusObject, error: grpc.ServiceError | undefined): Error {
    if (status.code === grpc.status.OK) {
      return new SessionError('SESS_ERR_SERVICE_UNAVAILABLE', `sessiond at ${this.#address} ended the stream (it is shutting down) before this call reached it; nothing was applied`);
    }
    if (status.code === grpc.status.CANCELLED && error) return fromGrpcError(error, this.#address);
    return new SessionError(
      'SESS_ERR_OUTCOME_UNKNOWN',
      `the stream to sessiond at ${this.#address} broke before the answer came (gRPC status ${grpc.status[status.code]}: ${status.details}): a mutation may or may not have been applied; retry it with the same idempotency key to find out`,
      error ? { cause: error } : {},
    );
  }
}
