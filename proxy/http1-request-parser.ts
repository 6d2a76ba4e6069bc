// An HTTP/1.1 request parser for one client connection (RFC 9112), fed the socket's bytes as they
// come; the framing is http1-parser.ts. It replaces Node's HTTP server on the forwarding path
// (issue 10: cheaper requests) and is as strict as llhttp where a lenient reading could let one
// request hide another (request smuggling): Content-Length with Transfer-Encoding, Transfer-Encoding
// other than exactly `chunked` or on HTTP/1.0, a repeated or malformed Content-Length, a repeated
// Host, methods Node does not know, obs-fold, bare CR or LF, a space before the colon, and heads
// over MAX_HEAD_BYTES are errors (code `HPE_*`; HPE_HEADER_OVERFLOW is answered 431, the others
// 400) and the connection is closed. Repeated fields merge as Node merges them.
import { METHODS } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { checkFieldBlock, contentLength, MessageParser, type BodySink, protocolError, type Framing } from './http1-parser.ts';

const KNOWN_METHODS = new Set(METHODS);
const REQUEST_LINE = /^([A-Z-]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/;
/** Fields whose repetitions Node drops (the first counts); Host and Content-Length are refused instead. */
const FIRST_WINS = new Set(['content-type', 'user-agent', 'referer', 'authorization', 'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location', 'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires']);
const CLOSE = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;
const KEEP_ALIVE = /(?:^|,)[ \t]*keep-alive[ \t]*(?:,|$)/i;
const UPGRADE = /(?:^|,)[ \t]*upgrade[ \t]*(?:,|$)/i;

export interface RequestHead {
  method: string;
  /** The request target as sent. */
  url: string;
  /** 0 or 1 (HTTP/1.0 or HTTP/1.1). */
  versionMinor: number;
  /** Lower-case names; repeated fields merged as Node merges them (Set-Cookie an array, Cookie joined by `; `, most by `, `). */
  headers: IncomingHttpHeaders;
  /** The client lets the connection carry another request after this one. */
  keepAlive: boolean;
  /** The request has a body (a Content-Length above 0, or chunked). */
  hasBody: boolean;
  /** `Expect: 100-continue` on HTTP/1.1. */
  expectContinue: boolean;
  /** Connection: upgrade with an Upgrade field: the parser stops after the head. */
  upgrade: boolean;
}

export interface RequestSink extends BodySink {
  onHead(head: RequestHead): void;
}

export class RequestParser extends MessageParser {
  readonly #sink: RequestSink;

  constructor(sink: RequestSink) {
    super(sink, 'invalid request');
    this.#sink = sink;
  }

  /** After a response, the next request: parses what arrived meanwhile. */
  next(): void {
    const pending = this.takePending();
    this.restart();
    if (pending !== null) this.execute(pending);
  }

  protected override head(text: string): Framing {
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd === -1) lineEnd = text.length;
    const start = REQUEST_LINE.exec(text.slice(0, lineEnd));
    if (start === null || !KNOWN_METHODS.has(start[1]!)) throw protocolError('HPE_INVALID_METHOD', 'invalid request line');
    const versionMinor = start[3] === '1' ? 1 : 0;
    const headers: IncomingHttpHeaders = {};
    let length: number | undefined;
    let te: string | undefined;
    let hosts = 0;
    let at = lineEnd + 2;
    if (at < text.length) checkFieldBlock(text.slice(at));
    while (at < text.length) {
      let end = text.indexOf('\r\n', at);
      if (end === -1) end = text.length;
      const colon = text.indexOf(':', at);
      const key = text.slice(at, colon).toLowerCase();
      const value = text.slice(colon + 1, end).trim();
      at = end + 2;
      if (key === 'content-length') length = contentLength(value, length);
      else if (key === 'host' && ++hosts > 1) throw protocolError('HPE_INVALID_HEADER_TOKEN', 'repeated Host');
      else if (key === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
      const existing = headers[key];
      if (existing === undefined) headers[key] = key === 'set-cookie' ? [value] : value;
      else if (key === 'set-cookie') (existing as string[]).push(value);
      else if (!FIRST_WINS.has(key)) headers[key] = `${existing as string}${key === 'cookie' ? '; ' : ', '}${value}`;
    }
    if (te !== undefined) {
      if (length !== undefined) throw protocolError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
      if (versionMinor === 0) throw protocolError('HPE_INVALID_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 request');
      if (te.toLowerCase() !== 'chunked') throw protocolError('HPE_INVALID_TRANSFER_ENCODING', `Transfer-Encoding "${te}" is not exactly chunked`);
    }
    const connection = headers.connection;
    const keepAlive = connection === undefined ? versionMinor === 1 : versionMinor === 1 ? !CLOSE.test(connection) : KEEP_ALIVE.test(connection) && !CLOSE.test(connection);
    const upgrade = connection !== undefined && headers.upgrade !== undefined && UPGRADE.test(connection);
    const hasBody = te !== undefined || (length !== undefined && length > 0);
    const expect = headers.expect;
    this.#sink.onHead({
      method: start[1]!,
      url: start[2]!,
      versionMinor,
      headers,
      keepAlive,
      hasBody,
      expectContinue: versionMinor === 1 && expect !== undefined && expect.toLowerCase() === '100-continue',
      upgrade,
    });
    if (upgrade) return 'detach';
    return te !== undefined ? 'chunked' : (length ?? 0);
  }
}
