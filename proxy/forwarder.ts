// One client request out to a backend through the backend's UpstreamClient, streamed both ways with
// backpressure and never buffered. A ProxyExchange is one attempt; a retry is a new exchange on
// another backend sharing the `tried` set. Rules:
//   - hop-by-hop headers are stripped both ways; X-Forwarded-* and Forwarded are set;
//   - a client that goes away aborts the upstream request;
//   - no response headers within timeouts.headersMs → 504 PRX_ERR_UPSTREAM_TIMEOUT;
//   - connect failure (and, with retry.onReset, a close before any response byte) is retried on
//     another backend only for idempotent methods on none/soft routes and only while no body byte
//     has been streamed from the client (a body read whole beforehand can be sent again);
//     otherwise 502 (hard pin: 503 PRX_ERR_PINNED_UPSTREAM_DOWN).
//     On hard routes such a close is retried once more on the same backend (stale keep-alive);
//   - after the response started, an upstream error can only cut the client connection;
//   - a body still arriving from its client (larger than listen.requestBodyBufferBytes) counts
//     against the pool's maxUploadConnections per backend: over it, 503 PRX_ERR_TOO_MANY_UPLOADS;
//     a client that stalls its body longer than requestBodyIdleTimeoutMs gets 408.
import type { AffinityResult, PinOutcome } from './affinity.ts';
import type { ClientRequest, ClientResponse } from './client-connection.ts';
import { sendError, type ProxyErrorCode } from './errors.ts';
import { clientResponseHeaders } from './http-headers.ts';
import { RequestBody, type BodyPrefix } from './request-body.ts';
import type { RouteEntry } from './route-table.ts';
import type { Upstream } from './upstream.ts';
import type { ResponseHead, UpstreamController, UpstreamHandler } from './upstream-client.ts';

/** What the forwarder reports back (counters, logs). */
export interface ForwardObserver {
  /**
   * Once per client request, with the final affinity, pin outcome and error code (if any). `request`
   * gives the route and the request's x-request-id (it names the request in log lines).
   */
  finished(request: ObservedRequest, affinity: AffinityResult, outcome: PinOutcome | null, code: ProxyErrorCode | undefined, upstream: Upstream, error?: Error): void;
}

/** What the observer is told of a request: its route and the x-request-id sent upstream. */
export interface ObservedRequest {
  readonly route: RouteEntry;
  readonly requestId: string | undefined;
}

export interface ForwardRequest {
  readonly req: ClientRequest;
  readonly res: ClientResponse;
  readonly route: RouteEntry;
  /** Upstream request headers, prepared once for all attempts; with `lines`, only their Host and Content-Length are read. */
  readonly headers: Record<string, string | string[]>;
  /** The upstream head's field lines (upstreamRequestLines), sent instead of `headers`. */
  readonly lines: string | undefined;
  readonly requestId: string | undefined;
  /** What readBodyPrefix() read, or null when the request has no body. */
  readonly body: BodyPrefix | null;
  /** listen.requestBodyIdleTimeoutMs. */
  readonly bodyIdleTimeoutMs: number;
  readonly observer: ForwardObserver;
}

type FailureKind = 'connect' | 'reset' | 'timeout' | 'protocol' | 'client';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'PRX_CLIENT_ABORTED' });

/** Starts forwarding `request` to `upstream`. */
export function forward(request: ForwardRequest, upstream: Upstream, affinity: AffinityResult, outcome: PinOutcome | null, setCookie: string | undefined, keyHash: number | undefined): void {
  new ProxyExchange(request, upstream, affinity, outcome, setCookie, keyHash, undefined, 1).start();
}

class ProxyExchange implements UpstreamHandler {
  readonly #request: ForwardRequest;
  readonly #upstream: Upstream;
  readonly #affinity: AffinityResult;
  readonly #outcome: PinOutcome | null;
  readonly #setCookie: string | undefined;
  readonly #keyHash: number | undefined;
  readonly #tried: Set<Upstream> | undefined;
  readonly #attempt: number;
  #controller: UpstreamController | null = null;
  #body: RequestBody | null = null;
  #responseStarted = false;
  #status = 0;
  #done = false;
  #clientGone = false;
  #uploading = false;

  constructor(
    request: ForwardRequest,
    upstream: Upstream,
    affinity: AffinityResult,
    outcome: PinOutcome | null,
    setCookie: string | undefined,
    keyHash: number | undefined,
    tried: Set<Upstream> | undefined,
    attempt: number,
  ) {
    this.#request = request;
    this.#upstream = upstream;
    this.#affinity = affinity;
    this.#outcome = outcome;
    this.#setCookie = setCookie;
    this.#keyHash = keyHash;
    this.#tried = tried;
    this.#attempt = attempt;
  }

  start(): void {
    const { req, res, route, headers, lines, body } = this.#request;
    const upstream = this.#upstream;
    const stream = req.body;
    if (stream !== null && body !== null && !body.complete && !stream.readableEnded) {
      const limit = route.pool.config.maxUploadConnections ?? Math.max(1, Math.floor(route.pool.config.connections / 2));
      if (upstream.uploads >= limit) return this.#refuseUpload();
      this.#uploading = true;
      upstream.uploads++;
      stream.once('end', this.#uploadDone);
    }
    upstream.inFlight++;
    upstream.requests++;
    res.onClose(this.#onClientClose);
    this.#body = body === null || stream === null ? null : new RequestBody(stream, body, this.#request.bodyIdleTimeoutMs);
    try {
      upstream.dispatcher.dispatch(
        {
          path: req.url,
          method: req.method,
          headers,
          lines,
          body: this.#body,
          headersTimeoutMs: route.config.timeouts.headersMs,
          bodyTimeoutMs: route.config.timeouts.bodyIdleMs,
        },
        this,
      );
    } catch (error) {
      this.onResponseError(null, error as Error);
    }
  }

  onRequestStart(controller: UpstreamController): void {
    this.#controller = controller;
    if (this.#clientGone) controller.abort(CLIENT_GONE);
  }

  onResponseStart(controller: UpstreamController, head: ResponseHead): void {
    if (this.#clientGone) {
      controller.abort(CLIENT_GONE);
      return;
    }
    const res = this.#request.res;
    const { status, statusMessage, endToEnd } = head;
    this.#status = status;
    try {
      if (endToEnd !== undefined && res.rewrite === undefined) {
        // The backend's own lines as received, then ours: no header object is built.
        let ours = `x-stickless-backend: ${this.#upstream.id}\r\nx-stickless-affinity: ${this.#affinity}\r\n`;
        if (this.#setCookie !== undefined) ours += `set-cookie: ${this.#setCookie}\r\n`;
        res.writeHeadLines(status, endToEnd + ours, head.hasLength, head.hasDate, statusMessage || undefined);
      } else {
        res.writeHead(status, clientResponseHeaders(head.headers, this.#upstream.id, this.#affinity, this.#setCookie), statusMessage || undefined);
      }
    } catch (error) {
      controller.abort(Object.assign(new Error(`invalid response from backend: ${(error as Error).message}`), { code: 'PRX_UPSTREAM_PROTOCOL' }));
      return;
    }
    this.#responseStarted = true;
  }

  onResponseData(controller: UpstreamController, chunk: Buffer): void {
    if (!this.#request.res.write(chunk)) {
      controller.pause();
      this.#request.res.onceDrain(() => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.#done) return;
    this.#request.res.end();
    this.#end(this.#status >= 500);
    this.#request.observer.finished(this.#request, this.#affinity, this.#outcome, undefined, this.#upstream);
  }

  onResponseError(_controller: UpstreamController | null, error: Error): void {
    if (this.#done) return;
    const { res, route, observer } = this.#request;
    const kind = classify(error, this.#clientGone);
    this.#end(kind !== 'client');
    if (kind === 'client') {
      // The client left, stalled its body or sent a malformed one; nobody to answer, or a 408/400
      // (and a close: the rest of its body is unread) if it still listens.
      const timedOut = (error as NodeJS.ErrnoException).code === 'PRX_CLIENT_BODY_TIMEOUT';
      if (!this.#clientGone && !this.#responseStarted) {
        res.closeConnection();
        sendError(res, timedOut ? 'PRX_ERR_REQUEST_TIMEOUT' : 'PRX_ERR_BAD_REQUEST', this.#stickless());
      } else if (!res.writableFinished) res.destroy();
      if (timedOut) observer.finished(this.#request, this.#affinity, this.#outcome, 'PRX_ERR_REQUEST_TIMEOUT', this.#upstream, error);
      return;
    }
    if (this.#responseStarted) {
      res.destroy();
      observer.finished(this.#request, this.#affinity, this.#outcome, kind === 'timeout' ? 'PRX_ERR_UPSTREAM_TIMEOUT' : 'PRX_ERR_UPSTREAM_RESET', this.#upstream, error);
      return;
    }
    if (route.mode === 'hard' && kind === 'reset' && route.config.retry.onReset && this.#replayable()) {
      // A hard pin may not move, but a reused connection that was already closed (keep-alive
      // race) deserves one more try on the same backend over a fresh connection.
      new ProxyExchange(this.#request, this.#upstream, this.#affinity, this.#outcome, this.#setCookie, this.#keyHash, this.#tried, this.#attempt + 1).start();
      return;
    }
    if (this.#retryable(kind)) {
      const tried = this.#tried ?? new Set<Upstream>();
      tried.add(this.#upstream);
      const next = route.rebalance(tried, this.#keyHash);
      if (next !== undefined) {
        const moved = this.#affinity === 'hit' ? 'moved' : this.#affinity;
        const outcome = this.#affinity === 'hit' ? 'failed_open' : this.#outcome;
        const setCookie = moved === 'none' ? undefined : route.pinCookie(next, Date.now());
        new ProxyExchange(this.#request, next, moved, outcome, setCookie, this.#keyHash, tried, this.#attempt + 1).start();
        return;
      }
    }
    if (kind === 'connect' && route.mode === 'hard' && this.#affinity === 'hit') {
      const retryAfterSeconds = route.policy.hard.retryAfterSeconds;
      sendError(res, 'PRX_ERR_PINNED_UPSTREAM_DOWN', this.#stickless(), { message: 'the pinned backend is down; retry later', retryAfterSeconds });
      observer.finished(this.#request, this.#affinity, 'failed_closed', 'PRX_ERR_PINNED_UPSTREAM_DOWN', this.#upstream, error);
      return;
    }
    const code = CODE_OF[kind];
    sendError(res, code, this.#stickless());
    observer.finished(this.#request, this.#affinity, this.#outcome, code, this.#upstream, error);
  }

  #retryable(kind: FailureKind): boolean {
    const route = this.#request.route;
    if (route.mode === 'hard' || !this.#replayable()) return false;
    return kind === 'connect' || (kind === 'reset' && route.config.retry.onReset);
  }

  /** Attempts left, an idempotent method, and not one body byte streamed from the client (a buffered body replays). */
  #replayable(): boolean {
    const { req, route } = this.#request;
    return this.#attempt < route.config.retry.attempts && IDEMPOTENT.has(req.method) && this.#body?.started !== true;
  }

  #stickless(): Record<string, string> {
    return { 'x-stickless-backend': this.#upstream.id, 'x-stickless-affinity': this.#affinity };
  }

  #end(failed: boolean): void {
    this.#done = true;
    this.#uploadDone();
    this.#upstream.inFlight--;
    this.#request.res.offClose(this.#onClientClose);
    if (!this.#clientGone) this.#request.route.pool.record(this.#upstream, failed);
  }

  #uploadDone = (): void => {
    if (!this.#uploading) return;
    this.#uploading = false;
    this.#upstream.uploads--;
    this.#request.req.body?.off('end', this.#uploadDone);
  };

  #refuseUpload(): void {
    const { res, route, observer } = this.#request;
    this.#done = true;
    res.closeConnection();
    sendError(res, 'PRX_ERR_TOO_MANY_UPLOADS', this.#stickless(), { message: 'too many uploads in progress; retry later', retryAfterSeconds: 1 });
    observer.finished(this.#request, this.#affinity, this.#outcome, 'PRX_ERR_TOO_MANY_UPLOADS', this.#upstream);
  }

  #onClientClose = (): void => {
    if (this.#request.res.writableFinished) return;
    this.#clientGone = true;
    this.#controller?.abort(CLIENT_GONE);
    this.#body?.destroy();
  };
}

const CODE_OF: Record<Exclude<FailureKind, 'client'>, ProxyErrorCode> = {
  connect: 'PRX_ERR_UPSTREAM_CONNECT',
  reset: 'PRX_ERR_UPSTREAM_RESET',
  timeout: 'PRX_ERR_UPSTREAM_TIMEOUT',
  protocol: 'PRX_ERR_UPSTREAM_PROTOCOL',
};

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

function classify(error: Error, clientGone: boolean): FailureKind {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (clientGone || code === 'PRX_CLIENT_ABORTED' || code === 'PRX_CLIENT_BODY_TIMEOUT' || code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') return 'client';
  if (CONNECT_CODES.has(code) || (error as { beforeConnect?: boolean }).beforeConnect === true) return 'connect';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'PRX_UPSTREAM_PROTOCOL') return 'protocol';
  return 'reset';
}
