// Raw-socket clients for proxy framing tests: bytes exactly as written, answers exactly as sent.
import { connect, type Socket } from 'node:net';

const RAW_TIMEOUT_MS = 20_000;

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every response parsed from what the proxy sent, in order. */
  responses: RawResponse[];
  /** Everything the proxy sent, latin1. */
  text: string;
  /** True when the proxy closed the connection (rather than the timeout). */
  closedByPeer: boolean;
}

/**
 * Connects to 127.0.0.1:`port`, writes `bytes` (each string after the previous one), and collects
 * the answer until the proxy closes the connection or `timeoutMs` passes (then the socket is
 * destroyed and closedByPeer is false).
 */
export function rawExchange(port: number, bytes: string | readonly string[], timeoutMs = RAW_TIMEOUT_MS): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('connect', () => {
      for (const part of typeof bytes === 'string' ? [bytes] : bytes) socket.write(part);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after the answer arrived still counts as the proxy closing.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ responses: parseResponses(text), text, closedByPeer: !timedOut });
    });
  });
}

/** An open raw connection for tests that write in steps (slow clients). */
export function rawConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Splits a byte stream of HTTP/1.1 responses with Content-Length bodies (what the proxy's error and test backends send). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const lines = text.slice(at, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status, headers, body: text.slice(headEnd + 4, headEnd + 4 + length) });
    at = headEnd + 4 + length;
  }
  return out;
}
