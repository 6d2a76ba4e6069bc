// What HTTP/1.1 requests and responses share (RFC 9112): the framing of a message fed as the socket's
// bytes come. A head (start line and fields, up to MAX_HEAD_BYTES) is handed to the subclass, which
// says how the body is framed; then a body of a known length, a chunked one (extensions skipped,
// trailers checked and dropped) or one that runs until the connection closes. Bytes after the
// message stay pending for the caller. The request and response parsers are
// http1-request-parser.ts and http1-response-parser.ts. Malformed input throws an error with code
// `HPE_*` (the codes llhttp uses), after which the connection must not be reused.

/** The largest head accepted, start line included (Node's and undici's default). */
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 1024;
/** The characters of a field name (RFC 9110 token) and of a field value (HTAB, visible, obs-text). */
const TOKEN_CHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const VALUE_CHAR = '[\\t\\x20-\\x7e\\x80-\\xff]';
const TOKEN = new RegExp(`^${TOKEN_CHAR}+$`);
const FIELD_VALUE = new RegExp(`^${VALUE_CHAR}*$`);
/** A field block (a head after its start line): every line `token:value`. */
const FIELD_BLOCK = new RegExp(`^(?:${TOKEN_CHAR}+:${VALUE_CHAR}*(?:\\r\\n|$))*$`);
const CHUNK_SIZE = new RegExp(`^([0-9a-fA-F]{1,12})(?:[ \\t]*;${VALUE_CHAR}*)?$`);
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * How the body after a head is framed: its length, `chunked`, `until-close` (a response with neither),
 * `interim` (a 1xx response: another head follows), or `detach` (an upgrade: parsing stops after
 * the head and the rest of the bytes are the caller's).
 */
export type Framing = number | 'chunked' | 'until-close' | 'interim' | 'detach';

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

export function protocolError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** `name: value` of a header or trailer line, the value without surrounding whitespace; throws when malformed. */
export function splitField(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) throw protocolError('HPE_INVALID_HEADER_TOKEN', 'header line without a name');
  const name = line.slice(0, colon);
  if (!TOKEN.test(name)) throw protocolError('HPE_INVALID_HEADER_TOKEN', `invalid header name "${name}"`);
  const value = line.slice(colon + 1).trim();
  if (!FIELD_VALUE.test(value)) throw protocolError('HPE_INVALID_HEADER_TOKEN', `invalid value of header ${name}`);
  return [name, value];
}

/**
 * Checks a whole field block with one regular expression (not two per line); when it fails, the
 * line at fault is found by splitField, which names it. Lines of a checked block can be split at
 * their first colon without further checks.
 */
export function checkFieldBlock(block: string): void {
  if (FIELD_BLOCK.test(block)) return;
  for (const line of block.split('\r\n')) splitField(line);
  throw protocolError('HPE_INVALID_HEADER_TOKEN', 'malformed header block');
}

/** A Content-Length value: 1 to 15 digits, nothing else (no lists, no signs). */
export function contentLength(value: string, previous: number | undefined): number {
  if (!/^\d{1,15}$/.test(value) || previous !== undefined) throw protocolError('HPE_UNEXPECTED_CONTENT_LENGTH', 'invalid or repeated Content-Length');
  return Number(value);
}

/** Where a message's body goes. */
export interface BodySink {
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

export abstract class MessageParser {
  readonly #sink: BodySink;
  #state: State = 'head';
  #pending: Buffer | null = null;
  #remaining = 0;
  readonly #what: string;

  /** `what` names the message in errors: "invalid response from backend", "invalid request". */
  constructor(sink: BodySink, what: string) {
    this.#sink = sink;
    this.#what = what;
  }

  /** Parses a head (its text without the final blank line) and says how its body is framed. */
  protected abstract head(text: string): Framing;

  /** True when the message ended exactly at the end of the bytes fed so far. */
  get done(): boolean {
    return this.#state === 'done' && this.#pending === null;
  }

  /** True while the body runs until the connection closes (no length, not chunked). */
  get untilClose(): boolean {
    return this.#state === 'until-close';
  }

  /** Bytes fed but not parsed yet (the start of a head, or bytes after the message). */
  get pendingBytes(): number {
    return this.#pending === null ? 0 : this.#pending.length;
  }

  /** Waits for a new head; bytes still pending are dropped. */
  protected restart(): void {
    this.#state = 'head';
    this.#pending = null;
  }

  /** The bytes fed after the message ended (or after a detaching head), handed over once. */
  takePending(): Buffer | null {
    const pending = this.#pending;
    this.#pending = null;
    return pending;
  }

  /** Feeds bytes; throws a protocol error. Bytes after the end of the message stay pending (see `done`). */
  execute(chunk: Buffer): void {
    const data = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = null;
    let at = 0;
    while (at < data.length) {
      switch (this.#state) {
        case 'head': {
          const end = data.indexOf(HEAD_END, at);
          if (end === -1 ? data.length - at > MAX_HEAD_BYTES : end - at > MAX_HEAD_BYTES) {
            throw this.#error('HPE_HEADER_OVERFLOW', `head over ${MAX_HEAD_BYTES} bytes`);
          }
          if (end === -1) {
            this.#pending = data.subarray(at);
            return;
          }
          const framing = this.head(data.toString('latin1', at, end));
          at = end + 4;
          if (framing === 'detach') {
            this.#state = 'done';
            if (at < data.length) this.#pending = data.subarray(at);
            return;
          }
          this.#frame(framing);
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
            if (data.length - at > MAX_CHUNK_LINE_BYTES) throw this.#error('HPE_INVALID_CHUNK_SIZE', 'chunk line too long');
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
          if (this.#state === 'done') this.#sink.onEnd();
          break;
        }
        case 'done':
          // Bytes after the message: kept for the caller (the next pipelined request, or a backend talking out of turn).
          this.#pending = data.subarray(at);
          return;
      }
    }
  }

  #frame(framing: Exclude<Framing, 'detach'>): void {
    if (framing === 'interim') return; // another head follows
    if (framing === 'chunked') this.#state = 'chunk-size';
    else if (framing === 'until-close') this.#state = 'until-close';
    else if (framing > 0) {
      this.#state = 'length';
      this.#remaining = framing;
    } else {
      this.#state = 'done';
      this.#sink.onEnd();
    }
  }

  #onLine(line: string): void {
    if (this.#state === 'chunk-end') {
      if (line !== '') throw this.#error('HPE_INVALID_CHUNK_SIZE', 'chunk data longer than its size');
      this.#state = 'chunk-size';
    } else if (this.#state === 'chunk-size') {
      const size = CHUNK_SIZE.exec(line);
      if (size === null) throw this.#error('HPE_INVALID_CHUNK_SIZE', 'malformed chunk size');
      this.#remaining = parseInt(size[1]!, 16);
      this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
    } else if (line === '') {
      this.#state = 'done';
      this.#sink.onEnd();
    } else {
      splitField(line); // a trailer: checked like a header field, then dropped
    }
  }

  #error(code: string, message: string): Error {
    return protocolError(code, `${this.#what}: ${message}`);
  }
}
