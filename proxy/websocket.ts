// WebSocket (any HTTP/1.1 Upgrade) proxying by piping raw sockets. Affinity is decided on the
// handshake like any request; the backend's response head is rewritten only to add the
// x-stickless-* headers and the pin's Set-Cookie, then bytes flow untouched both ways. An open
// tunnel counts as one in-flight request on its backend and is cut at the backend's drain
// deadline, on removal, and at proxy shutdown.
//
// The tunnel opens only on a `101` from the backend. Any other answer (a backend that does not
// upgrade answers `200`) is relayed as an ordinary response and the client connection is closed:
// bytes the client sent after the handshake are never passed on, so a pipelined second request
// cannot reach the backend unrouted (request smuggling, issue 7). Node's HTTP client parses the
// backend's answer, so its framing is read the way the rest of the proxy reads it.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { AffinityResult, PinOutcome } from './affinity.ts';
import type { ClientRequest } from './client-connection.ts';
import { rawErrorResponse, type ProxyErrorCode } from './errors.ts';
import { clientResponseHeaders } from './http-headers.ts';
import type { RouteEntry } from './route-table.ts';
import type { Tunnel, Upstream } from './upstream.ts';
import type { ForwardObserver } from './forwarder.ts';

/** Largest backend response head accepted before the tunnel is refused, bytes. */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/** After relaying a refused upgrade, time the client gets to close its side, ms. */
const REFUSED_LINGER_MS = 2_000;

export interface UpgradeRequest {
  readonly req: ClientRequest;
  readonly client: Duplex;
  readonly head: Buffer;
  readonly route: RouteEntry;
  /** Upstream request headers (Connection/Upgrade kept). */
  readonly headers: Record<string, string | string[]>;
  readonly requestId: string | undefined;
  readonly observer: ForwardObserver;
  /** Changes the client's response head (a learned pin wrapped, a pin on the app's cookie), as on plain requests. */
  readonly rewriteResponse?: ((headers: Record<string, string | string[]>) => void) | undefined;
}

export function proxyUpgrade(request: UpgradeRequest, upstream: Upstream, affinity: AffinityResult, outcome: PinOutcome | null, setCookie: string | undefined, keyHash: number | undefined, tried?: Set<Upstream>): void {
  new WebSocketTunnel(request, upstream, affinity, outcome, setCookie, keyHash, tried ?? new Set()).start();
}

class WebSocketTunnel implements Tunnel {
  readonly #request: UpgradeRequest;
  readonly #upstream: Upstream;
  readonly #affinity: AffinityResult;
  readonly #outcome: PinOutcome | null;
  readonly #setCookie: string | undefined;
  readonly #keyHash: number | undefined;
  readonly #tried: Set<Upstream>;
  #socket: Socket | undefined;
  #phase: 'connecting' | 'handshake' | 'open' | 'closed' = 'connecting';
  #timer: NodeJS.Timeout | undefined;

  constructor(request: UpgradeRequest, upstream: Upstream, affinity: AffinityResult, outcome: PinOutcome | null, setCookie: string | undefined, keyHash: number | undefined, tried: Set<Upstream>) {
    this.#request = request;
    this.#upstream = upstream;
    this.#affinity = affinity;
    this.#outcome = outcome;
    this.#setCookie = setCookie;
    this.#keyHash = keyHash;
    this.#tried = tried;
  }

  start(): void {
    const upstream = this.#upstream;
    const { client, route } = this.#request;
    upstream.inFlight++;
    upstream.requests++;
    upstream.addTunnel(this);
    client.on('error', () => this.destroy());
    client.on('close', () => this.destroy());
    const options = { host: upstream.hostname, port: upstream.port };
    const socket = upstream.tls ? tlsConnect({ ...options, servername: upstream.hostname, ALPNProtocols: ['http/1.1'], secureContext: upstream.secureContext }) : netConnect(options);
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#timer = setTimeout(() => this.#fail('connect', new Error('connect timeout')), route.pool.config.connectTimeoutMs);
    socket.once(upstream.tls ? 'secureConnect' : 'connect', () => this.#onConnect());
    socket.on('error', (error) => this.#fail(this.#phase === 'connecting' ? 'connect' : 'reset', error));
    socket.on('close', () => (this.#phase === 'open' ? this.destroy() : this.#fail('reset', new Error('backend closed during the handshake'))));
  }

  destroy(): void {
    if (this.#phase === 'closed') return;
    const wasOpen = this.#phase === 'open';
    this.#phase = 'closed';
    this.#release();
    this.#socket?.destroy();
    this.#request.client.destroy();
    if (wasOpen) this.#request.observer.finished(this.#request, this.#affinity, this.#outcome, undefined, this.#upstream);
  }

  #onConnect(): void {
    const { req, headers, route } = this.#request;
    const socket = this.#socket!;
    this.#phase = 'handshake';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fail('timeout', new Error('no handshake response')), route.config.timeouts.headersMs);
    const handshake = httpRequest({ method: req.method, path: req.url, headers, createConnection: () => socket, setHost: false, maxHeaderSize: MAX_RESPONSE_HEAD_BYTES });
    handshake.on('upgrade', (res: IncomingMessage, _socket: Socket, rest: Buffer) => this.#onUpgraded(res, rest));
    handshake.on('response', (res: IncomingMessage) => this.#onRefused(res));
    handshake.on('error', (error: NodeJS.ErrnoException) => this.#fail(error.code?.startsWith('HPE_') ? 'protocol' : 'reset', error));
    handshake.end();
  }

  /** 101: the response head (plus x-stickless-* and the pin) goes to the client, then bytes flow both ways. */
  #onUpgraded(res: IncomingMessage, rest: Buffer): void {
    if (this.#phase !== 'handshake') return;
    clearTimeout(this.#timer);
    const { client, head, route } = this.#request;
    const socket = this.#socket!;
    route.pool.record(this.#upstream, false);
    client.write(this.#upgradedHead(res));
    if (rest.length > 0) client.write(rest);
    if (head.length > 0) socket.write(head);
    this.#phase = 'open';
    // Every byte passes through the backend socket, so its idle timer covers both directions.
    const idleMs = route.config.timeouts.tunnelIdleMs;
    if (idleMs > 0) socket.setTimeout(idleMs, () => this.destroy());
    socket.pipe(client);
    client.pipe(socket);
    client.resume();
  }

  /** The 101 as the client gets it: the backend's fields as sent, then x-stickless-* and the pin; rewritten when the route asks. */
  #upgradedHead(res: IncomingMessage): string {
    const status = `HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
    const { rewriteResponse } = this.#request;
    if (rewriteResponse === undefined) {
      let text = status;
      for (let i = 0; i < res.rawHeaders.length; i += 2) text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      text += `x-stickless-backend: ${this.#upstream.id}\r\nx-stickless-affinity: ${this.#affinity}\r\n`;
      return `${text}${this.#setCookie === undefined ? '' : `set-cookie: ${this.#setCookie}\r\n`}\r\n`;
    }
    // Connection and Upgrade are the point of a 101: kept, unlike on other responses.
    const headers: Record<string, string | string[]> = { ...clientResponseHeaders(res.headers, this.#upstream.id, this.#affinity, this.#setCookie), connection: 'Upgrade' };
    if (res.headers.upgrade !== undefined) headers['upgrade'] = res.headers.upgrade;
    rewriteResponse(headers);
    return `${status}${serializeFields(headers)}\r\n`;
  }

  /**
   * Anything but 101: relayed as a normal response with `Connection: close`, and both connections
   * are closed after it. The client's bytes after the handshake are dropped unread.
   */
  #onRefused(res: IncomingMessage): void {
    if (this.#phase !== 'handshake') return;
    clearTimeout(this.#timer);
    const { client, route, observer } = this.#request;
    const socket = this.#socket!;
    const status = res.statusCode ?? 502;
    route.pool.record(this.#upstream, status >= 500);
    this.#phase = 'closed';
    this.#release();
    const headers = clientResponseHeaders(res.headers, this.#upstream.id, this.#affinity, this.#setCookie);
    this.#request.rewriteResponse?.(headers);
    // The body arrives decoded: without Content-Length it is delimited by the close.
    client.write(`HTTP/1.1 ${status} ${res.statusMessage ?? ''}\r\n${serializeFields(headers)}connection: close\r\n\r\n`);
    const idleMs = route.config.timeouts.bodyIdleMs;
    if (idleMs > 0) socket.setTimeout(idleMs, () => socket.destroy());
    res.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        res.pause();
        client.once('drain', () => res.resume());
      }
    });
    res.on('end', () => {
      socket.destroy();
      client.end();
      // Unread client bytes stay unread; a client that never closes its side is cut after a linger
      // (not at once: a reset could discard the answer before the client has read it).
      const linger = setTimeout(() => client.destroy(), REFUSED_LINGER_MS).unref();
      client.once('close', () => clearTimeout(linger));
    });
    res.on('error', () => client.destroy());
    client.once('close', () => socket.destroy());
    res.on('close', () => {
      if (!res.complete) client.destroy();
    });
    observer.finished(this.#request, this.#affinity, this.#outcome, undefined, this.#upstream);
  }

  #fail(kind: 'connect' | 'reset' | 'timeout' | 'protocol', error: Error): void {
    if (this.#phase === 'closed') return;
    if (this.#phase === 'open') return this.destroy();
    this.#phase = 'closed';
    this.#release();
    this.#socket?.destroy();
    const { client, route, observer } = this.#request;
    route.pool.record(this.#upstream, true);
    if (kind === 'connect' && route.mode !== 'hard' && this.#tried.size + 1 < route.config.retry.attempts && !client.destroyed) {
      this.#tried.add(this.#upstream);
      const next = route.rebalance(this.#tried, this.#keyHash);
      if (next !== undefined) {
        const affinity = this.#affinity === 'hit' ? 'moved' : this.#affinity;
        const setCookie = affinity === 'none' ? undefined : route.pinCookie(next, Date.now());
        proxyUpgrade(this.#request, next, affinity, this.#affinity === 'hit' ? 'failed_open' : this.#outcome, setCookie, this.#keyHash, this.#tried);
        return;
      }
    }
    let code: ProxyErrorCode = kind === 'connect' ? 'PRX_ERR_UPSTREAM_CONNECT' : kind === 'timeout' ? 'PRX_ERR_UPSTREAM_TIMEOUT' : kind === 'protocol' ? 'PRX_ERR_UPSTREAM_PROTOCOL' : 'PRX_ERR_UPSTREAM_RESET';
    let retryAfter: number | undefined;
    let outcome = this.#outcome;
    if (kind === 'connect' && route.mode === 'hard' && this.#affinity === 'hit') {
      code = 'PRX_ERR_PINNED_UPSTREAM_DOWN';
      retryAfter = route.policy.hard.retryAfterSeconds;
      outcome = 'failed_closed';
    }
    if (!client.destroyed) client.end(rawErrorResponse(code, { 'x-stickless-backend': this.#upstream.id, 'x-stickless-affinity': this.#affinity }, retryAfter));
    observer.finished(this.#request, this.#affinity, outcome, code, this.#upstream, error);
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.#upstream.inFlight--;
    this.#upstream.removeTunnel(this);
  }
}

/** `name: value` lines (CRLF-terminated), one per value of a repeated field. */
function serializeFields(headers: Record<string, string | string[]>): string {
  let text = '';
  for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) text += `${name}: ${v}\r\n`;
  return text;
}
