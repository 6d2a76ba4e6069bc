// The forwarding path's HTTP/1.1 client to one backend (issue 10: cheaper requests): a pool of
// keep-alive connections (upstream-connection.ts), one request at a time on each; requests beyond
// `connections` wait in order. It replaces undici's Pool on this path only; health checks keep
// undici. Failures carry the codes the forwarder classifies (forwarder.ts `classify`): the
// socket's own (ECONNREFUSED, ECONNRESET, ...), UND_ERR_CONNECT_TIMEOUT, UND_ERR_HEADERS_TIMEOUT,
// UND_ERR_BODY_TIMEOUT, UND_ERR_SOCKET (closed before the response ended), HPE_* (protocol).
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect, type SecureContext } from 'node:tls';
import { codedError, Connection, Exchange, type ConnectionOwner, type UpstreamHandler, type UpstreamRequest } from './upstream-connection.ts';

export type { UpstreamController, UpstreamHandler, UpstreamRequest } from './upstream-connection.ts';
export type { ResponseHead } from './http1-response-parser.ts';

export interface UpstreamClientOptions {
  hostname: string;
  port: number;
  tls: boolean;
  /** The TLS context when `tls` (trusted CAs, a client certificate); undefined: Node's defaults. */
  secureContext?: SecureContext | undefined;
  /** Connections at most; requests beyond wait in order. */
  connections: number;
  connectTimeoutMs: number;
  /** An idle connection is closed after this long (or the backend's shorter Keep-Alive hint, less 1 s). */
  keepAliveTimeoutMs: number;
}

const STOPPING = 'the backend was removed or the proxy is stopping';

export class UpstreamClient implements ConnectionOwner {
  readonly #options: UpstreamClientOptions;
  readonly #idle: Connection[] = [];
  readonly #queue: Exchange[] = [];
  readonly #all = new Set<Connection>();
  #closing = false;
  #onClosed: (() => void) | undefined;

  constructor(options: UpstreamClientOptions) {
    this.#options = options;
  }

  get closed(): boolean {
    return this.#closing;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closing) throw codedError(STOPPING, 'UND_ERR_CLOSED');
    const exchange = new Exchange(request, handler);
    handler.onRequestStart(exchange);
    if (exchange.finished) return;
    const idle = this.#idle.pop();
    if (idle !== undefined) idle.run(exchange);
    else if (this.#all.size < this.#options.connections) this.#open().run(exchange);
    else this.#queue.push(exchange);
  }

  /** Lets running and queued requests finish, then closes every connection. */
  close(): Promise<void> {
    this.#closing = true;
    for (const connection of this.#idle.splice(0)) connection.destroy();
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onClosed = resolve));
  }

  /** Cuts every connection and fails queued requests. */
  destroy(): Promise<void> {
    this.#closing = true;
    for (const exchange of this.#queue.splice(0)) exchange.fail(codedError(STOPPING, 'UND_ERR_DESTROYED'));
    for (const connection of [...this.#all]) connection.destroy(codedError(STOPPING, 'UND_ERR_DESTROYED'));
    return Promise.resolve();
  }

  /** A connection finished its exchange and can take another: the next queued one, or idle. */
  release(connection: Connection): void {
    const next = this.#nextQueued();
    if (next !== undefined) return connection.run(next);
    if (this.#closing) return connection.destroy();
    this.#idle.push(connection);
    connection.idle(this.#options.keepAliveTimeoutMs);
  }

  /** A connection closed: forget it, and open another for a waiting request. */
  forget(connection: Connection): void {
    this.#all.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at !== -1) this.#idle.splice(at, 1);
    const next = this.#nextQueued();
    if (next !== undefined) this.#open().run(next);
    else if (this.#closing && this.#all.size === 0) this.#onClosed?.();
  }

  /** The oldest waiting exchange whose client is still there (aborted ones are skipped here). */
  #nextQueued(): Exchange | undefined {
    let next = this.#queue.shift();
    while (next !== undefined && next.finished) next = this.#queue.shift();
    return next;
  }

  #open(): Connection {
    const { hostname, port, tls, secureContext, connectTimeoutMs } = this.#options;
    const socket = tls
      ? tlsConnect({ host: hostname, port, servername: isIP(hostname) === 0 ? hostname : undefined, ALPNProtocols: ['http/1.1'], secureContext })
      : netConnect({ host: hostname, port });
    const connection = new Connection(this, socket, tls, connectTimeoutMs, `${isIP(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`);
    this.#all.add(connection);
    return connection;
  }
}
