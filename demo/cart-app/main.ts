// A cart-app replica. Environment (demo/README.md lists it too):
//   PORT              listen port (default 3000)          HOST     listen host (default 0.0.0.0)
//   REPLICA_ID        shown in every response (default: hostname:port)
//   SESSION_MODE      local | central | token (default local)
//   SESSIOND_ADDRESS  host:port of sessiond (central mode; default 127.0.0.1:50051)
//   CART_COOKIE_KEYS  comma-separated secrets, 32+ characters each, the same on every replica: the
//                     first seals/signs, all open/verify (rotation). Token mode: required (the cart
//                     cookie's encryption). Central mode: optional; turns on version tokens.
//   CART_COOKIE_MAX_BYTES  token mode: largest cart cookie (name=value), bytes (default 4096)
import { hostname } from 'node:os';
import type { CartStore } from './cart-store.ts';
import { createCartApp } from './app.ts';
import { VersionCookie } from './version-cookie.ts';

function fail(message: string): never {
  process.stderr.write(`cart-app: ${message}\n`);
  process.exit(2);
}

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';
const mode = process.env.SESSION_MODE ?? 'local';
if (mode !== 'local' && mode !== 'central' && mode !== 'token') fail(`SESSION_MODE must be local, central or token, not "${mode}"`);
if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`PORT must be a port number, not "${process.env.PORT}"`);
const secrets = (process.env.CART_COOKIE_KEYS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
if (secrets.some((s) => s.length < 32)) fail('CART_COOKIE_KEYS: each secret needs 32 or more characters');
if (mode === 'token' && secrets.length === 0) fail('SESSION_MODE=token needs CART_COOKIE_KEYS (the key of the cart cookie, the same on every replica)');
const maxCookieBytes = Number(process.env.CART_COOKIE_MAX_BYTES ?? 4096);
if (!Number.isInteger(maxCookieBytes) || maxCookieBytes < 256) fail(`CART_COOKIE_MAX_BYTES must be an integer >= 256, not "${process.env.CART_COOKIE_MAX_BYTES}"`);

const nearCache = process.env.NEAR_CACHE ?? 'on';
if (nearCache !== 'on' && nearCache !== 'off') fail(`NEAR_CACHE must be on or off, not "${nearCache}"`);

const replicaId = process.env.REPLICA_ID ?? `${hostname()}:${port}`;
// Only the mode's store is loaded: a local or token replica is the app without stickless, so it
// never loads the gRPC client (about 0.35 s of CPU at each start on the machines BENCHMARKS.md uses).
const store: CartStore =
  mode === 'central' ? new (await import('./cart-store-central.ts')).CentralCartStore(process.env.SESSIOND_ADDRESS ?? '127.0.0.1:50051', 'shop', nearCache === 'on')
  : mode === 'token' ? new (await import('./cart-store-token.ts')).TokenCartStore({ secrets, cookieName: 'cart_token', maxCookieBytes })
  : new (await import('./cart-store-local.ts')).LocalCartStore();
const versionCookie = mode === 'central' && secrets.length > 0 ? new VersionCookie(secrets) : undefined;
const server = createCartApp({ store, replicaId, versionCookie });

server.on('error', (error: NodeJS.ErrnoException) => {
  process.stderr.write(`cart-app ${replicaId}: ${error.code === 'EADDRINUSE' ? `port ${port} is in use` : error.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  process.stdout.write(`${JSON.stringify({ msg: 'cart-app listening', replica: replicaId, mode, port, versionTokens: versionCookie !== undefined, nearCache: mode === 'central' && nearCache === 'on' })}\n`);
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
