// The response to one client request (client-connection.ts): the head written as one string, the
// pieces queued within one turn of the loop (head, body, chunk framing) written as one buffer, a
// body of unknown length framed as chunked (HTTP/1.1) or until the close (HTTP/1.0), the connection
// fields and a Date if the backend sent none added. Its surface is the part of Node's
// ServerResponse the forwarder and errors.ts use.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestHead } from './http1-request-parser.ts';

/** What a response needs from its connection. */
export interface ResponseOwner {
  readonly keepAliveTimeoutMs: number;
  /** The proxy shuts down, or the request has not been read whole: the connection closes after this response. */
  mustClose(): boolean;
  /** The response ended: the connection takes the next request, or closes. */
  responseDone(response: ClientResponse): void;
}

/** Response body chunks up to this size are copied into the write of the head (one write, no writev); larger ones are not. */
const MAX_COPIED_BYTES = 16 * 1024;

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

type ResponseState = 'new' | 'started' | 'finished' | 'destroyed';

export class ClientResponse {
  readonly #connection: ResponseOwner;
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

  constructor(connection: ResponseOwner, socket: Socket, head: RequestHead) {
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
   * fields, a Date if missing and the framing of the body are added here. `rewrite` is not applied:
   * a response that has one goes through writeHead.
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
    head += this.#close ? 'connection: close\r\n\r\n' : `connection: keep-alive\r\nkeep-alive: timeout=${Math.floor(this.#connection.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
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
