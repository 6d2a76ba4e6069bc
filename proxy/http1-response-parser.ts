// An HTTP/1.1 response parser for one backend connection (RFC 9112), fed the socket's bytes as
// they come; the framing is http1-parser.ts. Strict where a lenient reading could let a backend
// desynchronise the connection: Content-Length and Transfer-Encoding together, differing
// Content-Lengths, codings other than exactly `chunked`, obs-fold, bare CR or LF, invalid names or
// values, and heads over MAX_HEAD_BYTES are protocol errors (code `HPE_*`), after which the
// connection is not reused. Interim 1xx responses are skipped; trailers are read and dropped.
import { MessageParser, type BodySink, protocolError as parseError, splitField, type Framing } from './http1-parser.ts';

const protocolError = (code: string, message: string) => parseError(code, `invalid response from backend: ${message}`);

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

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
    this.#sink.onHead({ status: code, statusMessage: status[3] ?? '', headers, keepAlive: !close, keepAliveHintMs });
    return framing;
  }
}
