// The data listener: a net.Server whose connections are ClientConnections (client-connection.ts),
// tracked for the two stop verbs (close the idle ones, cut them all) and swept for their timeouts
// at a fixed interval instead of a timer per request: a deadline holds within the interval (at
// most a second; a quarter of the shortest timeout when that is shorter).
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ClientConnection, type ClientHandler, type ClientTimeouts, type ConnectionTracker } from './client-connection.ts';

const MAX_SWEEP_MS = 1_000;
const MIN_SWEEP_MS = 25;

export class ClientListener implements ConnectionTracker {
  readonly #server: Server;
  readonly #connections = new Set<ClientConnection>();
  readonly #handler: ClientHandler;
  readonly #timeouts: ClientTimeouts;
  #sweep: NodeJS.Timeout | undefined;

  constructor(handler: ClientHandler, timeouts: ClientTimeouts) {
    this.#handler = handler;
    this.#timeouts = timeouts;
    this.#server = createServer({ noDelay: true }, this.#onConnection);
  }

  get server(): Server {
    return this.#server;
  }

  address(): AddressInfo | null {
    const address = this.#server.address();
    return address === null || typeof address === 'string' ? null : address;
  }

  listen(port: number, host: string): void {
    this.#server.listen(port, host);
    const { keepAliveTimeoutMs, requestHeadersTimeoutMs, requestTimeoutMs } = this.#timeouts;
    const shortest = Math.min(keepAliveTimeoutMs, requestHeadersTimeoutMs, requestTimeoutMs > 0 ? requestTimeoutMs : Infinity);
    const every = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(shortest / 4)));
    this.#sweep = setInterval(this.#check, every).unref();
  }

  /** Stops accepting; resolves once every connection has closed. */
  close(): Promise<void> {
    return new Promise((resolve) =>
      this.#server.close(() => {
        clearInterval(this.#sweep);
        resolve();
      }),
    );
  }

  /** Closes the connections that have no request in progress. */
  closeIdleConnections(): void {
    for (const connection of this.#connections) if (connection.idle) connection.socket.destroy();
  }

  closeAllConnections(): void {
    for (const connection of this.#connections) connection.socket.destroy();
  }

  forget(connection: ClientConnection): void {
    this.#connections.delete(connection);
  }

  #onConnection = (socket: Socket): void => {
    this.#connections.add(new ClientConnection(socket, this.#handler, this.#timeouts, this));
  };

  #check = (): void => {
    const now = Date.now();
    for (const connection of this.#connections) connection.check(now);
  };
}
