// WebSocket (any HTTP/1.1 Upgrade) proxying by piping raw sockets. Affinity is decided on the
// handshake like any request; the backend's response head is rewritten only to add the
// x-stickless-* headers and the pin's Set-Cookie, then bytes flow untouched both ways. An open
// tunnel counts as one in-flight request on its backend and is cut at the backend's drain
// deadline, on removal, and at proxy shutdown.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AffinityResult, PinOutcome } from './affinity.ts';
import { rawErrorResponse, type ProxyErrorCode } from './errors.ts';
import type { RouteEntry } from './route-table.ts';
import type { Tunnel, Upstream } from './upstream.ts';
import type { ForwardObserver } from './forwarder.ts';

/** Largest backend response head accepted before the tunnel is refused, bytes. */
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

export interface UpgradeRequest {
  readonly req: IncomingMessage;
  readonly client: Duplex;
  readonly head: Buffer;
  readonly route: RouteEntry;
  /** Upstream request headers (Connection/Upgrade kept). */
  readonly headers: Record<string, string | string[]>;
  readonly observer: ForwardObserver;
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
    const socket = upstream.tls ? tlsConnect({ ...options, servername: upstream.hostname, ALPNProtocols: ['http/1.1'] }) : netConnect(options);
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
    if (wasOpen) this.#request.observer.finished(this.#request.route, this.#affinity, this.#outcome, undefined, this.#upstream);
  }

  #onConnect(): void {
    const { req, head, headers, route } = this.#request;
    const socket = this.#socket!;
    this.#phase = 'handshake';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fail('timeout', new Error('no handshake response')), route.config.timeouts.headersMs);
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (const name in headers) {
      const value = headers[name]!;
      if (Array.isArray(value)) for (const v of value) text += `${name}: ${v}\r\n`;
      else text += `${name}: ${value}\r\n`;
    }
    socket.write(`${text}\r\n`);
    if (head.length > 0) socket.write(head);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const buffer = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) {
        if (size > MAX_RESPONSE_HEAD_BYTES) this.#fail('protocol', new Error('response head too large'));
        return;
      }
      socket.off('data', onData);
      this.#onResponseHead(buffer.subarray(0, end + 2).toString('latin1'), buffer.subarray(end + 4));
    };
    socket.on('data', onData);
  }

  #onResponseHead(head: string, rest: Buffer): void {
    clearTimeout(this.#timer);
    const { client, route } = this.#request;
    const socket = this.#socket!;
    const lineEnd = head.indexOf('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.slice(0, lineEnd))?.[1] ?? 0);
    if (status === 0) return this.#fail('protocol', new Error('invalid status line'));
    route.pool.record(this.#upstream, status >= 500);
    let injected = `x-stickless-backend: ${this.#upstream.id}\r\nx-stickless-affinity: ${this.#affinity}\r\n`;
    if (this.#setCookie !== undefined) injected += `set-cookie: ${this.#setCookie}\r\n`;
    client.write(`${head.slice(0, lineEnd + 2)}${injected}${head.slice(lineEnd + 2)}\r\n`);
    if (rest.length > 0) client.write(rest);
    this.#phase = 'open';
    socket.pipe(client);
    client.pipe(socket);
    client.resume();
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
    observer.finished(route, this.#affinity, outcome, code, this.#upstream, error);
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.#upstream.inFlight--;
    this.#upstream.removeTunnel(this);
  }
}
