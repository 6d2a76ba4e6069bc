// An HTTP/1.1 response parser for one backend connection (RFC 9112), fed the socket's bytes as
// they come. Strict where a lenient reading could let a backend desynchronise the connection:
// Content-Length and Transfer-Encoding together, differing Content-Lengths, codings other than
// exactly `chunked`, obs-fold, bare CR or LF, invalid names or values, and heads over
// MAX_HEAD_BYTES are protocol errors (code `HPE_*`), after which the connection is not reused.
// Interim 1xx responses are skipped; trailers are read and dropped.

/** The largest response head accepted (Node's and undici's default). */
const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 1024;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

export interface ResponseHead {
  status: number;
  statusMessage: string;
  /** Lower-case names; a repeated field becomes an array of its values, in order. */
  headers: Record<string, string | string[]>;
  /** The backend lets the connection carry another request. */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` of the response, ms. */
  keepAliveHintMs: number | undefined;
}

export interface ResponseSink {
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

function protocolError(code: string, message: string): Error {
  return Object.assign(new Error(`invalid response from backend: ${message}`), { code });
}

/** `name: value` of a header or trailer line, the value without surrounding whitespace; throws when malformed. */
function splitField(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw protocolError('HPE_INVALID_HEADER_TOKEN', 'header line without a name');
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw protocolError('HPE_INVALID_HEADER_TOKEN', `invalid header name "${name}"`);
  const value = line.slice(colon + 1).trim();
  if (!FIELD_VALUE.test(value)) throw protocolError('HPE_INVALID_HEADER_TOKEN', `invalid value of header ${name}`);
  return [name, value];
}

export class ResponseParser {
  #sink: ResponseSink;
  #state: State = 'head';
  #pending: Buffer | null = null;
  #remaining = 0;
  #noBody = false;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** True when the response ended exactly at the end of the bytes fed so far. */
  get done(): boolean {
    return this.#state === 'done' && this.#pending === null;
  }

  /** True while the body runs until the connection closes (no length, not chunked). */
  get untilClose(): boolean {
    return this.#state === 'until-close';
  }

  /** Starts a new response; `noBody`: the request was HEAD, so no body follows any status. */
  reset(noBody: boolean): void {
    this.#state = 'head';
    this.#pending = null;
    this.#noBody = noBody;
  }

  /** Feeds bytes; throws a protocol error. Bytes after the end of the response stay pending (see `done`). */
  execute(chunk: Buffer): void {
    const data = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = null;
    let at = 0;
    while (at < data.length) {
      switch (this.#state) {
        case 'head': {
          const end = data.indexOf(HEAD_END, at);
          if (end === -1) {
            if (data.length - at > MAX_HEAD_BYTES) throw protocolError('HPE_HEADER_OVERFLOW', `response head over ${MAX_HEAD_BYTES} bytes`);
            this.#pending = data.subarray(at);
            return;
          }
          if (end - at > MAX_HEAD_BYTES) throw protocolError('HPE_HEADER_OVERFLOW', `response head over ${MAX_HEAD_BYTES} bytes`);
          this.#onHead(data.toString('latin1', at, end));
          at = end + 4;
          break;
        }
        case 'until-close':
          this.#sink.onBody(at === 0 ? data : data.subarray(at));
          return;
        case 'chunk-size':
        case 'chunk-end':
        case 'trailers': {
          const end = data.indexOf(CRLF, at);
          if (end === -1) {
            if (data.length - at > MAX_CHUNK_LINE_BYTES) throw protocolError('HPE_INVALID_CHUNK_SIZE', 'chunk line too long');
            this.#pending = data.subarray(at);
            return;
          }
          const line = data.toString('latin1', at, end);
          at = end + 2;
          this.#onLine(line);
          break;
        }
        case 'length':
        case 'chunk-data': {
          const take = Math.min(this.#remaining, data.length - at);
          this.#remaining -= take;
          const piece = data.subarray(at, at + take);
          at += take;
          if (this.#remaining === 0) this.#state = this.#state === 'length' ? 'done' : 'chunk-end';
          this.#sink.onBody(piece);
          if (this.#state === 'done') this.#end();
          break;
        }
        case 'done':
          // Bytes after the response: kept for the caller to see (a backend talking out of turn).
          this.#pending = data.subarray(at);
          return;
      }
    }
  }

  #onHead(text: string): void {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (status === null) throw protocolError('HPE_INVALID_STATUS', 'malformed status line');
    const headers: Record<string, string | string[]> = {};
    let length: number | undefined;
    let chunked = false;
    let hasTe = false;
    let close = status[1] === '0';
    let keepAliveHintMs: number | undefined;
    for (let i = 1; i < lines.length; i++) {
      const [name, value] = splitField(lines[i]!);
      const key = name.toLowerCase();
      const existing = headers[key];
      headers[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
      if (key === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) throw protocolError('HPE_UNEXPECTED_CONTENT_LENGTH', 'invalid or conflicting Content-Length');
        length = Number(value);
      } else if (key === 'transfer-encoding') {
        hasTe = true;
        chunked = value.toLowerCase() === 'chunked' && !chunked;
        if (!chunked) throw protocolError('HPE_INVALID_TRANSFER_ENCODING', `Transfer-Encoding "${value}" is not exactly chunked`);
      } else if (key === 'connection') {
        const tokens = value.toLowerCase();
        if (/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)) close = true;
        else if (status[1] === '0' && /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens)) close = false;
      } else if (key === 'keep-alive') {
        const timeout = /(?:^|[,;\s])timeout=(\d{1,6})/i.exec(value);
        if (timeout) keepAliveHintMs = Number(timeout[1]) * 1000;
      }
    }
    if (hasTe && length !== undefined) throw protocolError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
    const code = Number(status[2]);
    if (code < 200) {
      if (code === 101) throw protocolError('HPE_INVALID_STATUS', 'a 101 to a request that asked for no upgrade');
      return; // interim response: the final one follows
    }
    const noBody = this.#noBody || code === 204 || code === 304;
    if (noBody) this.#state = 'done';
    else if (chunked) this.#state = 'chunk-size';
    else if (length !== undefined) {
      this.#state = length === 0 ? 'done' : 'length';
      this.#remaining = length;
    } else {
      this.#state = 'until-close';
      close = true;
    }
    this.#sink.onHead({ status: code, statusMessage: status[3] ?? '', headers, keepAlive: !close, keepAliveHintMs });
    if (this.#state === 'done') this.#end();
  }

  #onLine(line: string): void {
    if (this.#state === 'chunk-end') {
      if (line !== '') throw protocolError('HPE_INVALID_CHUNK_SIZE', 'chunk data longer than its size');
      this.#state = 'chunk-size';
    } else if (this.#state === 'chunk-size') {
      const size = CHUNK_SIZE.exec(line);
      if (size === null) throw protocolError('HPE_INVALID_CHUNK_SIZE', 'malformed chunk size');
      this.#remaining = parseInt(size[1]!, 16);
      this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
    } else if (line === '') {
      this.#state = 'done';
      this.#end();
    } else {
      splitField(line); // a trailer: checked like a header field, then dropped
    }
  }

  #end(): void {
    this.#state = 'done';
    this.#sink.onEnd();
  }
}
