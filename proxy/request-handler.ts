// The data-plane request path: framing check → route → affinity decision → forward (or upgrade).
// It reads one immutable RouteTable per request and bumps plain counters; everything else
// (listening, reload, shutdown) is proxy-server.ts.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AffinityResult, PinOutcome } from './affinity.ts';
import type { ClientHandler, ClientRequest, ClientResponse } from './client-connection.ts';
import { rawErrorResponse, sendError, type ProxyErrorCode } from './errors.ts';
import { forward, type ForwardObserver, type ObservedRequest } from './forwarder.ts';
import type { ProxyConfig } from './config-schema.ts';
import { framingProblem, removeDotSegments, upstreamRequestHeaders, upstreamRequestLines } from './http-headers.ts';
import { readBodyPrefix, type BodyPrefix } from './request-body.ts';
import type { RouteDecision, RouteEntry, RouteTable } from './route-table.ts';
import type { Upstream } from './upstream.ts';
import { proxyUpgrade } from './websocket.ts';

const NO_BACKEND = { 'x-stickless-backend': '', 'x-stickless-affinity': 'none' } as const;
/** A body streamed from the client as it arrives (chunked, or longer than requestBodyBufferBytes). */
const STREAMED_BODY: BodyPrefix = { chunks: [], complete: false };

export class RequestHandler implements ForwardObserver, ClientHandler {
  /** Replaced on reload and runtime mode changes; read once per request. */
  table: RouteTable;
  /** Replaced on reload: trustForwardedHeaders and the request body settings apply at once. */
  listen: ProxyConfig['listen'];
  /** Set by close(): responses ask clients to close their connection. */
  closing = false;
  /** Error responses by code (metrics). */
  readonly errors = new Map<string, number>();
  readonly #log: Logger;

  constructor(table: RouteTable, listen: ProxyConfig['listen'], logger: Logger) {
    this.table = table;
    this.listen = listen;
    this.#log = logger;
  }

  onRequest(req: ClientRequest, res: ClientResponse): void {
    if (!normalizeTarget(req)) return this.#reject(req, res, 'request target is not origin-form or absolute-form');
    const problem = framingProblem(req.headers);
    if (problem !== undefined) return this.#reject(req, res, problem);
    const route = this.table.router.match(req.headers.host, req.url);
    if (route === undefined) {
      this.#countError('PRX_ERR_NO_ROUTE');
      return sendError(res, 'PRX_ERR_NO_ROUTE', NO_BACKEND);
    }
    route.counters.requests++;
    if (req.body === null) return this.#forward(req, res, route, null);
    // A small body arrives whole before a backend connection is taken; others stream as uploads.
    const { requestBodyBufferBytes, requestBodyIdleTimeoutMs } = this.listen;
    const length = req.headers['content-length'];
    if (length === undefined || Number(length) > requestBodyBufferBytes) return this.#forward(req, res, route, STREAMED_BODY);
    readBodyPrefix(req.body, requestBodyBufferBytes, requestBodyIdleTimeoutMs).then(
      (body) => this.#forward(req, res, route, body),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'PRX_CLIENT_BODY_TIMEOUT') return void res.destroy();
        this.#countError('PRX_ERR_REQUEST_TIMEOUT');
        res.closeConnection();
        sendError(res, 'PRX_ERR_REQUEST_TIMEOUT', NO_BACKEND);
      },
    );
  }

  #forward(req: ClientRequest, res: ClientResponse, route: RouteEntry, body: BodyPrefix | null): void {
    if (res.destroyed) return;
    const decision = route.decide(req.headers, Date.now());
    if (decision.kind === 'unavailable') return this.#unavailable(route, decision, res);
    const trust = this.listen.trustForwardedHeaders;
    let headers: Record<string, string | string[]>;
    let lines: string | undefined;
    let requestId: string | undefined;
    if (decision.rewriteRequest === undefined) {
      // The usual case: the head's lines straight from the client's fields, no second header object.
      ({ lines, requestId } = upstreamRequestLines(req, trust));
      headers = req.headers as Record<string, string | string[]>;
    } else {
      headers = upstreamRequestHeaders(req, trust);
      decision.rewriteRequest(headers);
      requestId = headers['x-request-id'] as string | undefined;
    }
    res.rewrite = decision.rewriteResponse;
    forward(
      { req, res, route, headers, lines, requestId, body, bodyIdleTimeoutMs: this.listen.requestBodyIdleTimeoutMs, observer: this },
      decision.upstream,
      decision.affinity,
      decision.outcome,
      decision.setCookie,
      decision.keyHash,
    );
  }

  onUpgrade(req: ClientRequest, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const fail = (code: ProxyErrorCode, headers: Record<string, string> = NO_BACKEND, retryAfterSeconds?: number) => {
      this.#countError(code);
      socket.end(rawErrorResponse(code, headers, retryAfterSeconds));
    };
    if (this.closing) return fail('PRX_ERR_SHUTTING_DOWN');
    if (!normalizeTarget(req) || req.method !== 'GET' || framingProblem(req.headers) !== undefined) return fail('PRX_ERR_BAD_REQUEST');
    const route = this.table.router.match(req.headers.host, req.url);
    if (route === undefined) return fail('PRX_ERR_NO_ROUTE');
    route.counters.requests++;
    const decision = route.decide(req.headers, Date.now());
    if (decision.kind === 'unavailable') {
      this.#count(route, decision.affinity, decision.outcome);
      return fail(decision.code, { 'x-stickless-backend': decision.upstream?.id ?? '', 'x-stickless-affinity': decision.affinity }, decision.retryAfterSeconds);
    }
    const upgradeHeaders = upstreamRequestHeaders(req, this.listen.trustForwardedHeaders, true);
    decision.rewriteRequest?.(upgradeHeaders);
    proxyUpgrade(
      { req, client: socket, head, route, headers: upgradeHeaders, requestId: upgradeHeaders['x-request-id'] as string | undefined, observer: this, rewriteResponse: decision.rewriteResponse },
      decision.upstream,
      decision.affinity,
      decision.outcome,
      decision.setCookie,
      decision.keyHash,
    );
  }

  /** A request the connection refused itself (malformed, too large, too slow); it answers and closes. */
  onClientError(code: ProxyErrorCode, reason: string): void {
    this.#countError(code);
    this.#log.debug({ code, reason }, 'request refused by the connection');
  }

  finished(request: ObservedRequest, affinity: AffinityResult, outcome: PinOutcome | null, code: ProxyErrorCode | undefined, upstream: Upstream, error?: Error): void {
    const { route } = request;
    this.#count(route, affinity, outcome);
    if (code !== undefined) {
      this.#countError(code);
      const reqId = request.requestId;
      this.#log.warn({ reqId, route: route.name, upstream: upstream.id, code, err: error?.message }, 'upstream request failed');
    }
  }

  #unavailable(route: RouteEntry, decision: Extract<RouteDecision, { kind: 'unavailable' }>, res: ClientResponse): void {
    this.#count(route, decision.affinity, decision.outcome);
    this.#countError(decision.code);
    const headers = { 'x-stickless-backend': decision.upstream?.id ?? '', 'x-stickless-affinity': decision.affinity };
    sendError(res, decision.code, headers, decision.retryAfterSeconds === undefined ? undefined : { message: 'the pinned backend is down; retry later', retryAfterSeconds: decision.retryAfterSeconds });
  }

  #reject(req: ClientRequest, res: ClientResponse, reason: string): void {
    this.#countError('PRX_ERR_BAD_REQUEST');
    this.#log.info({ reason, method: req.method }, 'ambiguous request rejected');
    // The rest of the stream cannot be trusted: answer and close.
    res.closeConnection();
    sendError(res, 'PRX_ERR_BAD_REQUEST', NO_BACKEND);
  }

  #count(route: RouteEntry, affinity: AffinityResult, outcome: PinOutcome | null): void {
    const c = route.counters;
    c[affinity]++;
    if (outcome === 'routed') c.routed++;
    else if (outcome === 'failed_open') c.failedOpen++;
    else if (outcome === 'failed_closed') c.failedClosed++;
  }

  #countError(code: ProxyErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

/**
 * Origin-form stays; absolute-form (`GET http://host/p`) becomes origin-form. False for anything
 * else. Dot-segments are removed, so the route is chosen on the path the backend receives.
 */
function normalizeTarget(req: ClientRequest): boolean {
  const url = req.url;
  if (url === undefined || url.length === 0) return false;
  if (url.charCodeAt(0) === 47 /* / */) {
    req.url = removeDotSegments(url);
    return true;
  }
  if (!/^https?:\/\//i.test(url)) return false;
  try {
    const parsed = new URL(url);
    req.url = removeDotSegments(`${parsed.pathname}${parsed.search}`);
    return true;
  } catch {
    return false;
  }
}
