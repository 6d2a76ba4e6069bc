// An HTTP/1.1 response parser for one backend connection (RFC 9112), fed the socket's bytes as
// they come; the framing is http1-parser.ts. Strict where a lenient reading could let a backend
// desynchronise the connection: Content-Length and Transfer-Encoding together, differing
// Content-Lengths, codings other than exactly `chunked`, obs-fold, bare CR or LF, invalid names or
// values, and heads over MAX_HEAD_BYTES are protocol errors (code `HPE_*`), after which the
// connection is not reused. Interim 1xx responses are skipped; trailers are read and dropped.
import { HOP_BY_HOP } from './http-headers.ts';
import { checkFieldBlock, MessageParser, type BodySink, protocolError as parseError, type Framing } from './http1-parser.ts';

const protocolError = (code: string, message: string) => parseError(code, `invalid response from backend: ${message}`);

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** Name lengths of the fields the parser must recognise (framing, Date, hop-by-hop); other names are not lower-cased. */
const RECOGNISED_LENGTHS = new Set(['content-length', 'date', ...HOP_BY_HOP].map((name) => name.length));
const ONLY_OWN_TOKENS = /^[ \t]*(?:(?:close|keep-alive|upgrade)[ \t]*(?:,[ \t]*|$))+$/i;

/** Lower-case name and trimmed value of a line of a checked field block. */
function fieldOf(line: string): [string, string] {
  const colon = line.indexOf(':');
  return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
}

export class ResponseHead {
  readonly status: number;
  readonly statusMessage: string;
  /** The backend lets the connection carry another request. */
  readonly keepAlive: boolean;
  /** `Keep-Alive: timeout=N` of the response, ms. */
  readonly keepAliveHintMs: number | undefined;
  /**
   * The end-to-end field lines as received, each with its CRLF, hop-by-hop ones left out: what the
   * client is sent. Undefined when Connection names further fields to drop (use `headers`).
   */
  readonly endToEnd: string | undefined;
  readonly hasDate: boolean;
  readonly hasLength: boolean;
  readonly #lines: readonly string[];
  #headers: Record<string, string | string[]> | undefined;

  constructor(status: number, statusMessage: string, lines: readonly string[], fields: { keepAlive: boolean; keepAliveHintMs: number | undefined; endToEnd: string | undefined; hasDate: boolean; hasLength: boolean }) {
    this.status = status;
    this.statusMessage = statusMessage;
    this.#lines = lines;
    this.keepAlive = fields.keepAlive;
    this.keepAliveHintMs = fields.keepAliveHintMs;
    this.endToEnd = fields.endToEnd;
    this.hasDate = fields.hasDate;
    this.hasLength = fields.hasLength;
  }

  /** Every field by lower-case name, a repeated one as an array of its values in order; built when first asked for. */
  get headers(): Record<string, string | string[]> {
    if (this.#headers !== undefined) return this.#headers;
    const headers: Record<string, string | string[]> = {};
    for (let i = 1; i < this.#lines.length; i++) {
      const [key, value] = fieldOf(this.#lines[i]!);
      const existing = headers[key];
      headers[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
    return (this.#headers = headers);
  }
}

export interface ResponseSink extends BodySink {
  onHead(head: ResponseHead): void;
}

export class ResponseParser extends MessageParser {
  readonly #sink: ResponseSink;
  #noBody = false;

  constructor(sink: ResponseSink) {
    super(sink, 'invalid response from backend');
    this.#sink = sink;
  }

  /** Starts a new response; `noBody`: the request was HEAD, so no body follows any status. */
  reset(noBody: boolean): void {
    this.restart();
    this.#noBody = noBody;
  }

  protected override head(text: string): Framing {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (status === null) throw protocolError('HPE_INVALID_STATUS', 'malformed status line');
    if (lines.length > 1) checkFieldBlock(text.slice(lines[0]!.length + 2));
    let length: number | undefined;
    let chunked = false;
    let hasTe = false;
    let hasDate = false;
    let close = status[1] === '0';
    let keepAliveHintMs: number | undefined;
    let endToEnd: string | undefined = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (!RECOGNISED_LENGTHS.has(colon)) {
        if (endToEnd !== undefined) endToEnd += `${line}\r\n`;
        continue;
      }
      const [key, value] = fieldOf(line);
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
        if (!ONLY_OWN_TOKENS.test(value)) endToEnd = undefined; // it names fields to drop: the caller filters `headers`
      } else if (key === 'keep-alive') {
        const timeout = /(?:^|[,;\s])timeout=(\d{1,6})/i.exec(value);
        if (timeout) keepAliveHintMs = Number(timeout[1]) * 1000;
      } else if (key === 'date') hasDate = true;
      if (endToEnd !== undefined && !HOP_BY_HOP.has(key)) endToEnd += `${line}\r\n`;
    }
    if (hasTe && length !== undefined) throw protocolError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
    const code = Number(status[2]);
    if (code < 200) {
      if (code === 101) throw protocolError('HPE_INVALID_STATUS', 'a 101 to a request that asked for no upgrade');
      return 'interim';
    }
    let framing: Framing;
    if (this.#noBody || code === 204 || code === 304) framing = 0;
    else if (chunked) framing = 'chunked';
    else if (length !== undefined) framing = length;
    else {
      framing = 'until-close';
      close = true;
    }
    this.#sink.onHead(new ResponseHead(code, status[3] ?? '', lines, { keepAlive: !close, keepAliveHintMs, endToEnd, hasDate, hasLength: length !== undefined }));
    return framing;
  }

}
