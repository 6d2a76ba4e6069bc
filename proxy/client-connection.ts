// One client connection of the data listener, on the raw socket (issue 10: cheaper requests): the
// requests parsed by http1-request-parser.ts, one at a time; a pipelined request waits, unparsed,
// until the response before it has ended. Per request a ClientRequest (its body a Readable only
// when it has one) and a ClientResponse that writes the head as one string, corked with the body,
// and frames a body of unknown length as chunked (HTTP/1.1) or until the close (HTTP/1.0).
// Timeouts are checked by the listener's sweep (client-listener.ts): the head within
// requestHeadersTimeoutMs, the whole request within requestTimeoutMs (both from the request's first
// byte), keep-alive idleness. A malformed request or a timeout is answered here (400, 431 or 408
// with `connection: close`) and the connection closed.
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { rawErrorResponse, type ProxyErrorCode } from './errors.ts';
import { MAX_HEAD_BYTES } from './http1-parser.ts';
import { RequestParser, type RequestHead, type RequestSink } from './http1-request-parser.ts';

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
/** Response body chunks up to this size are copied into the write of the head (one write, no writev); larger ones are not. */
const MAX_COPIED_BYTES = 16 * 1024;

/** Ends a request body that will not complete: with an error for whoever listens for one (an unheard error would be thrown). */
function abortBody(body: Readable | null): void {
  if (body === null || body.destroyed) return;
  if (body.listenerCount('error') === 0) body.destroy();
  else body.destroy(Object.assign(new Error('client closed the connection or sent a malformed body'), { code: 'PRX_CLIENT_ABORTED' }));
}

let dateMs = 0;
let dateText = '';
/** The Date field, formatted at most once a second. */
function httpDate(now: number): string {
  if (now - dateMs >= 1000) {
    dateMs = now - (now % 1000);
    dateText = new Date(dateMs).toUTCString();
  }
  return dateText;
}

export class ClientRequest {
  readonly method: string;
  /** The request target; the handler normalises it in place. */
  url: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersionMinor: number;
  readonly socket: Socket;
  /** The body as it arrives, or null when the request has none. */
  readonly body: Readable | null;

  constructor(head: RequestHead, socket: Socket, body: Readable | null) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.httpVersionMinor = head.versionMinor;
    this.socket = socket;
    this.body = body;
  }
}

type ResponseState = 'new' | 'started' | 'finished' | 'destroyed';

export class ClientResponse {
  readonly #connection: ClientConnection;
  readonly #socket: Socket;
  readonly #noBody: boolean;
  readonly #http10: boolean;
  #state: ResponseState = 'new';
  #chunked = false;
  #close: boolean;
  #closeListeners: (() => void)[] | null = null;
  #queued: (string | Buffer)[] = [];
  #queuedBytes = 0;
  /** Changes the response fields before they are written (learned pins, learned-pin.ts). */
  rewrite: ((headers: Record<string, string | string[]>) => void) | undefined;

  constructor(connection: ClientConnection, socket: Socket, head: RequestHead) {
    this.#connection = connection;
    this.#socket = socket;
    this.#noBody = head.method === 'HEAD';
    this.#http10 = head.versionMinor === 0;
    this.#close = !head.keepAlive;
  }

  get headersSent(): boolean {
    return this.#state !== 'new';
  }

  /** True once end() was called (or the connection answered for the handler). */
  get writableFinished(): boolean {
    return this.#state === 'finished';
  }

  get destroyed(): boolean {
    return this.#state === 'destroyed';
  }

  /** The connection closes after this response. */
  closeConnection(): void {
    this.#close = true;
  }

  get closesConnection(): boolean {
    return this.#close;
  }

  writeHead(status: number, headers: Record<string, string | string[] | number>, statusMessage?: string): this {
    if (this.#state !== 'new') return this;
    this.rewrite?.(headers as Record<string, string | string[]>);
    let lines = '';
    let hasDate = false;
    let hasLength = false;
    for (const name in headers) {
      const value = headers[name]!;
      if (typeof value === 'object') for (const item of value) lines += `${name}: ${item}\r\n`;
      else {
        lines += `${name}: ${value}\r\n`;
        if (name === 'date') hasDate = true;
        else if (name === 'content-length') hasLength = true;
      }
    }
    return this.writeHeadLines(status, lines, hasLength, hasDate, statusMessage);
  }

  /**
   * writeHead with the fields already as lines (each with its CRLF; values checked by whoever made
   * them): `hasLength`, a Content-Length is among them; `hasDate`, a Date is. The connection
   * fields, a Date if missing and the framing of the body are added here.
   */
  writeHeadLines(status: number, lines: string, hasLength: boolean, hasDate: boolean, statusMessage?: string): this {
    if (this.#state !== 'new') return this;
    this.#state = 'started';
    const bodyless = this.#noBody || status === 204 || status === 304 || status < 200;
    if (this.#connection.mustClose()) this.#close = true;
    let head = `HTTP/1.1 ${status} ${statusMessage ?? STATUS_CODES[status] ?? ''}\r\n${lines}`;
    if (!hasDate) head += `date: ${httpDate(Date.now())}\r\n`;
    if (!bodyless && !hasLength) {
      if (this.#http10) this.#close = true;
      else {
        this.#chunked = true;
        head += 'transfer-encoding: chunked\r\n';
      }
    }
    head += this.#close ? 'connection: close\r\n\r\n' : `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(this.#connection.timeouts.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
    this.#queue(head);
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.#state !== 'started' || chunk.length === 0) return true;
    if (this.#chunked) this.#queue(`${chunk.length.toString(16)}\r\n`);
    if (chunk.length > MAX_COPIED_BYTES) {
      // Not copied: what is queued goes first, then the chunk, in one writev.
      this.#socket.cork();
      this.#flush();
      this.#socket.write(chunk);
      if (this.#chunked) this.#socket.write('\r\n', 'latin1');
      this.#socket.uncork();
      return !this.#socket.writableNeedDrain;
    }
    this.#queue(chunk);
    if (this.#chunked) this.#queue('\r\n');
    return this.#queuedBytes < MAX_COPIED_BYTES || this.#flush();
  }

  end(body?: string | Buffer): void {
    if (this.#state === 'new') this.writeHead(200, {});
    if (this.#state !== 'started') return;
    if (body !== undefined && body.length > 0) this.write(typeof body === 'string' ? Buffer.from(body) : body);
    if (this.#chunked) this.#queue('0\r\n\r\n');
    this.#state = 'finished';
    this.#flush();
    this.#connection.responseDone(this);
  }

  /** Writes what was queued in this turn of the loop (head, body pieces, framing) as one buffer. */
  #flush(): boolean {
    const pieces = this.#queued;
    if (pieces.length === 0) return true;
    this.#queued = [];
    const bytes = this.#queuedBytes;
    this.#queuedBytes = 0;
    if (pieces.length === 1) {
      const [piece] = pieces;
      return typeof piece === 'string' ? this.#socket.write(piece, 'latin1') : this.#socket.write(piece!);
    }
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (const piece of pieces) at += typeof piece === 'string' ? out.write(piece, at, 'latin1') : piece.copy(out, at);
    return this.#socket.write(out);
  }

  #queue(piece: string | Buffer): void {
    // Head and body usually come within one turn of the loop: they go out together at its end
    // (or at end()), in one write.
    if (this.#queued.length === 0) process.nextTick(flushQueued, this);
    this.#queued.push(piece);
    this.#queuedBytes += piece.length;
  }

  /** process.nextTick: writes a response's queued bytes that end() did not. */
  static flushQueued(response: ClientResponse): void {
    if (response.#state === 'started') response.#flush();
  }

  /** Cuts the client connection (a response that cannot be completed). */
  destroy(): void {
    if (this.#state === 'finished' || this.#state === 'destroyed') return;
    this.#state = 'destroyed';
    this.#socket.destroy();
  }

  onClose(listener: () => void): void {
    (this.#closeListeners ??= []).push(listener);
  }

  offClose(listener: () => void): void {
    const at = this.#closeListeners?.indexOf(listener) ?? -1;
    if (at !== -1) this.#closeListeners!.splice(at, 1);
  }

  onceDrain(listener: () => void): void {
    this.#socket.once('drain', listener);
  }

  /** The connection answered for the handler (a timeout, a malformed body): later writes go nowhere. */
  abandon(): void {
    if (this.#state === 'new') this.#state = 'finished';
  }

  /** The client connection closed. */
  closed(): void {
    if (this.#state === 'finished') return;
    if (this.#state !== 'destroyed') this.#state = 'destroyed';
    const listeners = this.#closeListeners;
    this.#closeListeners = null;
    if (listeners !== null) for (const listener of listeners) listener();
  }
}

const flushQueued = (response: ClientResponse): void => ClientResponse.flushQueued(response);

/** Where a connection is: what its clock (`since`) measures. */
type Phase = 'head' | 'body' | 'waiting' | 'idle' | 'closing' | 'detached';

export class ClientConnection implements RequestSink {
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

  /** No request in progress (closeIdleConnections). */
  get idle(): boolean {
    return this.#request === null && this.#phase !== 'detached';
  }

  /** The listener's shutdown or the client's own wish. */
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
