// One keep-alive HTTP/1.1 connection to a backend and the request running on it: the request head
// built as one string and written once (with a body read whole beforehand in the same write), the
// response read by http1-response-parser.ts, one timer per connection for connect, response head,
// body idle and keep-alive idle. The pool that owns connections is upstream-client.ts.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser, type ResponseHead } from './http1-response-parser.ts';

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  /** The head's field lines, each with its CRLF, values already known to be safe: sent instead of `headers` (which still give Host and Content-Length). */
  lines?: string | undefined;
  /** Null: no body. Without a content-length header the body goes out chunked. */
  body: Readable | null;
  /** Response head within this long after the request went out (0: no limit). */
  headersTimeoutMs: number;
  /** Longest pause between response body bytes (0: no limit). */
  bodyTimeoutMs: number;
}

export interface UpstreamController {
  /** Ends the exchange with `reason` (onResponseError follows); the connection is closed. */
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

export interface UpstreamHandler {
  onRequestStart(controller: UpstreamController): void;
  onResponseStart(controller: UpstreamController, head: ResponseHead): void;
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  onResponseEnd(controller: UpstreamController): void;
  onResponseError(controller: UpstreamController, error: Error): void;
}

const KEEP_ALIVE_HINT_MARGIN_MS = 1_000;
/** What the connection's one timer is waiting for. */
type TimerPhase = 'connect' | 'headers' | 'body' | 'idle';
const UNSAFE_VALUE = /[\0\r\n]/;

export function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** What a connection tells the pool it belongs to. */
export interface ConnectionOwner {
  /** The exchange is over and the connection can take another. */
  release(connection: Connection): void;
  /** The connection closed. */
  forget(connection: Connection): void;
}

/** One request on its way: the controller the handler sees. */
export class Exchange implements UpstreamController {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  connection: Connection | null = null;
  finished = false;
  responseStarted = false;

  constructor(request: UpstreamRequest, handler: UpstreamHandler) {
    this.request = request;
    this.handler = handler;
  }

  abort(reason: Error): void {
    if (this.finished) return;
    if (this.connection !== null) this.connection.destroy(reason);
    else this.fail(reason);
  }

  pause(): void {
    this.connection?.pause();
  }

  resume(): void {
    this.connection?.resume();
  }

  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.request.body?.destroy();
    this.handler.onResponseError(this, error);
  }
}

export class Connection {
  readonly #client: ConnectionOwner;
  readonly #socket: Socket;
  readonly #hostHeader: string;
  readonly #parser: ResponseParser;
  #connected = false;
  #exchange: Exchange | null = null;
  #requestSent = false;
  #responseEnded = false;
  #keepAlive = true;
  #keepAliveHintMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The armed phase's length, ms. */
  #timerMs = 0;
  /** When the armed phase times out (performance.now()), or 0 when nothing is armed. */
  #deadline = 0;
  /** When the pending timer fires (performance.now()). */
  #due = 0;
  #phase: TimerPhase = 'connect';
  #paused = false;
  #destroyed = false;

  constructor(client: ConnectionOwner, socket: Socket, tls: boolean, connectTimeoutMs: number, hostHeader: string) {
    this.#client = client;
    this.#socket = socket;
    this.#hostHeader = hostHeader;
    this.#parser = new ResponseParser({
      onHead: (head) => this.#onHead(head),
      onBody: (chunk) => this.#onBody(chunk),
      onEnd: () => this.#onEnd(),
    });
    socket.setNoDelay(true);
    this.#arm(connectTimeoutMs, 'connect');
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      this.#disarm();
      if (this.#exchange !== null) this.#send(this.#exchange);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#exchange?.request.body?.resume());
    // Failing before the connection (and TLS handshake) completed, nothing was sent: callers treat
    // such a failure as "could not connect", whatever its code (a certificate the pool does not trust).
    socket.on('error', (error) => this.destroy(this.#connected ? error : Object.assign(error, { beforeConnect: true })));
    socket.on('close', () => this.destroy(undefined, true));
  }

  run(exchange: Exchange): void {
    if (this.#phase === 'idle') this.#disarm();
    this.#exchange = exchange;
    exchange.connection = this;
    this.#requestSent = false;
    this.#responseEnded = false;
    this.#parser.reset(exchange.request.method === 'HEAD');
    if (this.#connected) this.#send(exchange);
  }

  idle(keepAliveTimeoutMs: number): void {
    const hint = this.#keepAliveHintMs === undefined ? Infinity : this.#keepAliveHintMs - KEEP_ALIVE_HINT_MARGIN_MS;
    const ms = Math.min(keepAliveTimeoutMs, hint);
    if (ms <= 0) return this.destroy();
    this.#arm(ms, 'idle');
  }

  pause(): void {
    this.#paused = true;
    this.#disarm();
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    const ms = this.#exchange?.request.bodyTimeoutMs ?? 0;
    if (ms > 0 && this.#exchange?.responseStarted) this.#arm(ms, 'body');
    this.#socket.resume();
  }

  /**
   * Closes the connection; a running exchange fails with `error`, unless the backend closed it
   * (`byBackend`) to end a body that runs until the close.
   */
  destroy(error?: Error, byBackend = false): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#deadline = 0;
    clearTimeout(this.#timer);
    this.#socket.destroy();
    const exchange = this.#exchange;
    this.#exchange = null;
    if (exchange !== null && !exchange.finished) {
      if (byBackend && exchange.responseStarted && this.#parser.untilClose) {
        this.#finish(exchange);
        exchange.handler.onResponseEnd(exchange);
      } else {
        exchange.fail(error ?? codedError('the backend closed the connection before the response ended', 'UND_ERR_SOCKET'));
      }
    }
    this.#client.forget(this);
  }

  #send(exchange: Exchange): void {
    const { method, path, headers, lines, body, headersTimeoutMs } = exchange.request;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    if (headers['host'] === undefined) head += `host: ${this.#hostHeader}\r\n`;
    if (lines !== undefined) head += lines;
    else {
      for (const name in headers) {
        const value = headers[name]!;
        if (typeof value === 'string') {
          if (UNSAFE_VALUE.test(value)) return exchange.fail(codedError(`request header ${name} holds CR, LF or NUL`, 'UND_ERR_INVALID_ARG'));
          head += `${name}: ${value}\r\n`;
        } else {
          for (const item of value) {
            if (UNSAFE_VALUE.test(item)) return exchange.fail(codedError(`request header ${name} holds CR, LF or NUL`, 'UND_ERR_INVALID_ARG'));
            head += `${name}: ${item}\r\n`;
          }
        }
      }
    }
    if (body === null) {
      this.#socket.write(`${head}\r\n`, 'latin1');
      this.#sent(exchange, headersTimeoutMs);
      return;
    }
    const declared = headers['content-length'];
    const chunked = declared === undefined;
    let left = chunked ? 0 : Number(declared);
    // A body read whole beforehand arrives within this turn of the loop: one write with the head.
    this.#socket.cork();
    setImmediate(() => this.#socket.uncork());
    this.#socket.write(chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`, 'latin1');
    body.on('data', (chunk: Buffer) => {
      if (this.#exchange !== exchange || chunk.length === 0) return;
      if (!chunked && (left -= chunk.length) < 0) return this.destroy(codedError('request body longer than its Content-Length', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'));
      if (chunked) this.#socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      let ok = this.#socket.write(chunk);
      if (chunked) ok = this.#socket.write('\r\n', 'latin1');
      if (!ok) body.pause();
    });
    body.once('end', () => {
      if (this.#exchange !== exchange) return;
      if (left !== 0) return this.destroy(codedError('request body shorter than its Content-Length', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'));
      if (chunked) this.#socket.write('0\r\n\r\n', 'latin1');
      this.#sent(exchange, headersTimeoutMs);
      if (this.#responseEnded) this.#afterResponse();
    });
    body.once('error', (error: Error) => {
      if (this.#exchange === exchange) this.destroy(error);
    });
  }

  /** The whole request is out: the wait for the response head starts (unless it already came). */
  #sent(exchange: Exchange, headersTimeoutMs: number): void {
    this.#requestSent = true;
    if (headersTimeoutMs > 0 && !exchange.responseStarted) this.#arm(headersTimeoutMs, 'headers');
  }

  #onData(chunk: Buffer): void {
    const exchange = this.#exchange;
    if (exchange === null) return this.destroy(); // bytes on an idle connection: the backend is out of step
    try {
      this.#parser.execute(chunk);
    } catch (error) {
      return this.destroy(error as Error);
    }
    if (this.#responseEnded && this.#exchange === exchange) {
      // Bytes after the response, or a body the backend did not wait for: not reusable.
      if (!this.#parser.done || !this.#requestSent) return this.destroy();
      this.#afterResponse();
    }
  }

  #onHead(head: ResponseHead): void {
    const exchange = this.#exchange!;
    this.#keepAlive = head.keepAlive;
    this.#keepAliveHintMs = head.keepAliveHintMs;
    exchange.responseStarted = true;
    const ms = exchange.request.bodyTimeoutMs;
    if (ms > 0) this.#arm(ms, 'body');
    else this.#disarm();
    exchange.handler.onResponseStart(exchange, head);
  }

  #onBody(chunk: Buffer): void {
    const exchange = this.#exchange;
    if (exchange === null || exchange.finished || chunk.length === 0) return;
    if (this.#deadline !== 0 && !this.#paused) this.#deadline = performance.now() + this.#timerMs;
    exchange.handler.onResponseData(exchange, chunk);
  }

  #onEnd(): void {
    const exchange = this.#exchange;
    if (exchange === null || exchange.finished) return;
    this.#responseEnded = true;
    this.#disarm();
    this.#finish(exchange);
    exchange.handler.onResponseEnd(exchange);
  }

  /** Response ended and request sent: the connection takes the next request, or closes. */
  #afterResponse(): void {
    this.#exchange = null;
    if (!this.#keepAlive || this.#destroyed) return this.destroy();
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    this.#client.release(this);
  }

  #finish(exchange: Exchange): void {
    exchange.finished = true;
    exchange.connection = null;
    if (!this.#requestSent) exchange.request.body?.destroy(); // the backend answered before reading the whole body
  }

  /**
   * One timer per connection, armed per phase by moving a deadline: a request re-arms it several
   * times (response head, body, keep-alive idle) without a setTimeout or clearTimeout each time.
   * The timer is rescheduled only when the new deadline comes before it fires; when it fires
   * early it waits out the rest.
   */
  #arm(ms: number, phase: TimerPhase): void {
    this.#phase = phase;
    this.#timerMs = ms;
    this.#deadline = performance.now() + ms;
    if (this.#timer === undefined || this.#due > this.#deadline) this.#schedule();
    // An idle connection's timer does not keep the process alive; a request's does.
    if (phase === 'idle') this.#timer!.unref();
    else this.#timer!.ref();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#due = this.#deadline;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(this.#deadline - performance.now())));
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#deadline === 0) return;
    if (this.#deadline > performance.now()) {
      this.#schedule();
      if (this.#phase === 'idle') this.#timer!.unref();
      return;
    }
    this.#deadline = 0;
    const ms = this.#timerMs;
    if (this.#phase === 'idle') return this.destroy();
    if (this.#phase === 'connect') return this.destroy(codedError(`connect to ${this.#hostHeader} timed out after ${ms} ms`, 'UND_ERR_CONNECT_TIMEOUT'));
    if (this.#phase === 'headers') return this.destroy(codedError(`no response head within ${ms} ms`, 'UND_ERR_HEADERS_TIMEOUT'));
    this.destroy(codedError(`no response body byte for ${ms} ms`, 'UND_ERR_BODY_TIMEOUT'));
  };

  /** Nothing to time; a pending timer stays (it will find nothing) but no longer keeps the process alive. */
  #disarm(): void {
    this.#deadline = 0;
    this.#timer?.unref();
  }
}
