// A cart-app replica. Environment:
//   PORT            listen port (default 3000)          HOST     listen host (default 0.0.0.0)
//   REPLICA_ID      shown in every response (default: hostname:port)
//   SESSION_MODE    local | central (default local)
//   SESSIOND_ADDRESS host:port of sessiond (central mode; default 127.0.0.1:50051)
import { hostname } from 'node:os';
import type { CartStore } from './cart-store.ts';
import { CentralCartStore } from './cart-store-central.ts';
import { LocalCartStore } from './cart-store-local.ts';
import { createCartApp } from './app.ts';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const mode = process.env.SESSION_MODE ?? 'local';
if (mode !== 'local' && mode !== 'central') {
  process.stderr.write(`cart-app: SESSION_MODE must be local or central, not "${mode}"\n`);
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`cart-app: PORT must be a port number, not "${process.env.PORT}"\n`);
  process.exit(2);
}
const replicaId = process.env.REPLICA_ID ?? `${hostname()}:${port}`;
const store: CartStore = mode === 'central' ? new CentralCartStore(process.env.SESSIOND_ADDRESS ?? '127.0.0.1:50051') : new LocalCartStore();
const server = createCartApp({ store, replicaId });

server.on('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(`cart-app ${replicaId}: ${error.code === 'EADDRINUSE' ? `port ${port} is in use` : error.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'cart-app listening', replica: replicaId, mode, port })}\n`);
});

const stop = (): void => {
  server.close(() => {
    void store.close().then(() => process.exit(0));
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
