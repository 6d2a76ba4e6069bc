// One client connection of the data listener, on the raw socket (issue 10: cheaper requests): the
// requests parsed by http1-request-parser.ts, one at a time; a pipelined request waits, unparsed,
// until the response before it has ended. Per request a ClientRequest (its body a Readable only
// when it has one) and a ClientResponse (client-response.ts). Timeouts are checked by the
// listener's sweep (client-listener.ts): the head within requestHeadersTimeoutMs, the whole request
// within requestTimeoutMs (both from the request's first byte), keep-alive idleness. A malformed
// request or a timeout is answered here (400, 431 or 408 with `connection: close`) and the
// connection closed.
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { rawErrorResponse, type ProxyErrorCode } from './errors.ts';
import { MAX_HEAD_BYTES } from './http1-parser.ts';
import { ClientResponse, type ResponseOwner } from './client-response.ts';
import { RequestParser, type RequestHead, type RequestSink } from './http1-request-parser.ts';

export { ClientResponse } from './client-response.ts';

/** What the connection hands its requests to (request-handler.ts). */
export interface ClientHandler {
  onRequest(req: ClientRequest, res: ClientResponse): void;
  /** An Upgrade request: the socket and the bytes after the head are the handler's from now on. */
  onUpgrade(req: ClientRequest, socket: Socket, head: Buffer): void;
  /** A request refused before it reached onRequest (malformed, too large, too slow): counted and logged; the connection answers. */
  onClientError(code: ProxyErrorCode, reason: string): void;
  /** True while the proxy shuts down: every response asks the client to close. */
  readonly closing: boolean;
}

export interface ClientTimeouts {
  keepAliveTimeoutMs: number;
  requestHeadersTimeoutMs: number;
  /** 0: none. */
  requestTimeoutMs: number;
}

/** What the connection tells the listener that tracks it. */
export interface ConnectionTracker {
  forget(connection: ClientConnection): void;
}

const NO_BACKEND = { 'x-stickless-backend': '', 'x-stickless-affinity': 'none' };
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
/** After answering with `connection: close`, time the client gets to close its side, ms. */
const LINGER_MS = 2_000;
const BODY_HIGH_WATER_MARK = 64 * 1024;

/** Ends a request body that will not complete: with an error for whoever listens for one (an unheard error would be thrown). */
function abortBody(body: Readable | null): void {
  if (body === null || body.destroyed) return;
  if (body.listenerCount('error') === 0) body.destroy();
  else body.destroy(Object.assign(new Error('client closed the connection or sent a malformed body'), { code: 'PRX_CLIENT_ABORTED' }));
}

export class ClientRequest {
  readonly method: string;
  /** The request target; the handler normalises it in place. */
  url: string;
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  /** The body as it arrives, or null when the request has none. */
  readonly body: Readable | null;

  constructor(head: RequestHead, socket: Socket, body: Readable | null) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.socket = socket;
    this.body = body;
  }
}

/** Where a connection is: what its clock (`since`) measures. */
type Phase = 'head' | 'body' | 'waiting' | 'idle' | 'closing' | 'detached';

export class ClientConnection implements RequestSink, ResponseOwner {
  readonly socket: Socket;
  readonly timeouts: ClientTimeouts;
  readonly #handler: ClientHandler;
  readonly #tracker: ConnectionTracker;
  readonly #parser: RequestParser;
  #phase: Phase = 'head';
  /** When the current phase's clock started (the request's first byte, the idle start), ms. */
  #since = Date.now();
  #request: ClientRequest | null = null;
  #response: ClientResponse | null = null;
  #requestDone = false;
  #executing = false;
  #next = false;
  #upgrade: ClientRequest | null = null;

  constructor(socket: Socket, handler: ClientHandler, timeouts: ClientTimeouts, tracker: ConnectionTracker) {
    this.socket = socket;
    this.#handler = handler;
    this.timeouts = timeouts;
    this.#tracker = tracker;
    this.#parser = new RequestParser(this);
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', this.#onClose);
  }

  get keepAliveTimeoutMs(): number {
    return this.timeouts.keepAliveTimeoutMs;
  }

  /** No request in progress (closeIdleConnections). */
  get idle(): boolean {
    return this.#request === null && this.#phase !== 'detached';
  }

  /** The proxy shuts down, or the request has not been read whole (the client's own wish is the response's). */
  mustClose(): boolean {
    return this.#handler.closing || !this.#requestDone;
  }

  /** The sweep: enforces the phase's timeout at `now`. */
  check(now: number): void {
    const elapsed = now - this.#since;
    const { requestHeadersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = this.timeouts;
    switch (this.#phase) {
      case 'head':
        if (elapsed >= requestHeadersTimeoutMs || (requestTimeoutMs > 0 && elapsed >= requestTimeoutMs)) this.#refuse('PRX_ERR_REQUEST_TIMEOUT', `no complete request head within ${requestHeadersTimeoutMs} ms`);
        break;
      case 'body':
        if (requestTimeoutMs > 0 && elapsed >= requestTimeoutMs) this.#refuse('PRX_ERR_REQUEST_TIMEOUT', `no complete request within ${requestTimeoutMs} ms`);
        break;
      case 'idle':
        if (elapsed >= keepAliveTimeoutMs) this.socket.destroy();
        break;
      case 'closing':
        if (elapsed >= LINGER_MS) this.socket.destroy();
        break;
    }
  }

  // --- RequestSink (called by the parser) ----------------------------------------------------

  onHead(head: RequestHead): void {
    const socket = this.socket;
    let body: Readable | null = null;
    if (head.hasBody && !head.upgrade) {
      body = new Readable({ highWaterMark: BODY_HIGH_WATER_MARK, read: () => this.#phase === 'body' && socket.resume() });
      if (head.expectContinue) socket.write(CONTINUE, 'latin1');
    }
    const request = new ClientRequest(head, socket, body);
    if (head.upgrade) {
      this.#phase = 'detached';
      this.#upgrade = request;
      return;
    }
    this.#request = request;
    this.#response = new ClientResponse(this, socket, head);
    this.#requestDone = body === null;
    this.#phase = body === null ? 'waiting' : 'body';
    this.#handler.onRequest(request, this.#response);
  }

  onBody(chunk: Buffer): void {
    const body = this.#request?.body;
    if (body != null && !body.destroyed && !body.push(chunk)) this.socket.pause();
  }

  onEnd(): void {
    if (this.#requestDone || this.#request === null) return;
    this.#requestDone = true;
    if (this.#phase === 'body') this.#phase = 'waiting';
    this.#request.body?.push(null);
  }

  // --- the response's side --------------------------------------------------------------------

  /** The response ended: the next request, or the close. */
  responseDone(response: ClientResponse): void {
    if (response !== this.#response) return;
    if (response.closesConnection || !this.#requestDone) return this.#closeGracefully();
    this.#request = null;
    this.#response = null;
    this.#phase = 'idle';
    this.#since = Date.now();
    this.#next = true;
    if (!this.#executing) this.#parse(null);
    if (this.socket.isPaused()) this.socket.resume();
  }

  // --- internals ------------------------------------------------------------------------------

  #onData = (chunk: Buffer): void => {
    if (this.#phase === 'closing' || this.#phase === 'detached') return;
    if (this.#phase === 'idle') {
      this.#phase = 'head';
      this.#since = Date.now();
    }
    this.#parse(chunk);
  };

  /** Feeds `chunk` (or, with null, the bytes pending after a response) and runs the requests it completes. */
  #parse(chunk: Buffer | null): void {
    this.#executing = true;
    try {
      if (chunk !== null) this.#parser.execute(chunk);
      while (this.#next && this.#upgrade === null && this.#phase !== 'closing') {
        this.#next = false;
        this.#parser.next();
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      this.#refuse(code === 'HPE_HEADER_OVERFLOW' ? 'PRX_ERR_HEADERS_TOO_LARGE' : 'PRX_ERR_BAD_REQUEST', (error as Error).message);
    } finally {
      this.#executing = false;
    }
    if (this.#upgrade !== null) return this.#detach(this.#upgrade);
    if (this.#phase === 'idle' && this.#parser.pendingBytes > 0) this.#phase = 'head'; // part of a pipelined head
    // A pipelined request waits for the response before it; do not buffer more than one head of it.
    if (this.#phase === 'waiting' && this.#parser.pendingBytes > MAX_HEAD_BYTES) this.socket.pause();
  }

  #detach(request: ClientRequest): void {
    this.#upgrade = null;
    const socket = this.socket;
    socket.off('data', this.#onData);
    socket.off('close', this.#onClose);
    this.#tracker.forget(this);
    this.#handler.onUpgrade(request, socket, this.#parser.takePending() ?? Buffer.alloc(0));
  }

  /** Answers `code` itself (the handler's response, if any, is abandoned) and closes. */
  #refuse(code: ProxyErrorCode, reason: string): void {
    const response = this.#response;
    this.#handler.onClientError(code, reason);
    abortBody(this.#request?.body ?? null);
    if (response !== null && response.headersSent) {
      this.socket.destroy();
      return;
    }
    response?.abandon();
    this.socket.end(rawErrorResponse(code, NO_BACKEND));
    this.#enterClosing();
  }

  #closeGracefully(): void {
    this.socket.end();
    this.#enterClosing();
  }

  #enterClosing(): void {
    this.#phase = 'closing';
    this.#since = Date.now();
    if (this.socket.isPaused()) this.socket.resume(); // read (and drop) until the client closes
  }

  #onClose = (): void => {
    this.#phase = 'closing';
    const request = this.#request;
    if (request !== null && !this.#requestDone) abortBody(request.body);
    this.#response?.closed();
    this.#tracker.forget(this);
  };
}
