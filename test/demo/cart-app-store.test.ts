// The cart app and its store: a replica loads only its own mode's store, so a local or token replica
// is the app without stickless and never loads the gRPC client (what the scenario's hard + local
// row must be, since its CPU is the baseline of issue 8's targets); and a central replica whose
// sessiond cannot be reached answers 503 with the store's stable code, never a 500 or a hang.
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import test from 'ava';
import { createCartApp } from '../../demo/cart-app/app.ts';
import { CentralCartStore } from '../../demo/cart-app/cart-store-central.ts';

const MAIN = new URL('../../demo/cart-app/main.ts', import.meta.url).pathname;
/** Makes loading any @grpc/ module fail the process (Node 24's in-thread module hooks). */
const NO_GRPC = 'data:text/javascript,' + encodeURIComponent(
  "import { registerHooks } from 'node:module';" +
  "registerHooks({ resolve(specifier, context, next) { if (specifier.startsWith('@grpc/')) throw new Error('loaded ' + specifier); return next(specifier, context); } });",
);
const KEYS = 'k'.repeat(40);

/** Starts a replica of `mode` with the hook; resolves with its first line of output, or its exit and stderr. */
function startReplica(mode: string): Promise<{ listening: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', NO_GRPC, MAIN], {
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SESSION_MODE: mode, SESSIOND_ADDRESS: '127.0.0.1:1', CART_COOKIE_KEYS: KEYS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', (chunk: Buffer) => {
      child.kill('SIGKILL');
      resolve({ listening: true, output: chunk.toString() });
    });
    child.once('exit', () => resolve({ listening: false, output: stderr }));
  });
}

for (const mode of ['local', 'token']) {
  test(`a ${mode} replica starts without loading the gRPC client`, async (t) => {
    t.timeout(60_000); // a bound for a replica that never starts, not a speed limit
    const { listening, output } = await startReplica(mode);
    t.true(listening, output);
    t.regex(output, /cart-app listening/);
  });
}

test('a central replica loads the gRPC client (the check above can fail)', async (t) => {
  t.timeout(60_000);
  const { listening, output } = await startReplica('central');
  t.false(listening);
  t.regex(output, /loaded @grpc\//);
});

test('a central replica whose sessiond cannot be reached answers 503 with the store\'s code', async (t) => {
  t.timeout(60_000);
  // A port that was free a moment ago and is closed now: every connection is refused.
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const store = new CentralCartStore(`127.0.0.1:${deadPort}`, 'shop', true);
  const app = createCartApp({ store, replicaId: 'r1' }).listen(0, '127.0.0.1');
  t.teardown(async () => {
    app.close();
    app.closeAllConnections();
    await store.close();
  });
  await new Promise((resolve) => app.once('listening', resolve));
  const response = await fetch(`http://127.0.0.1:${(app.address() as AddressInfo).port}/api/cart`, { signal: AbortSignal.timeout(50_000) });
  const body = (await response.json()) as { code: string; error: string; replica: string };
  t.is(response.status, 503);
  t.is(body.code, 'SESS_ERR_SERVICE_UNAVAILABLE');
  t.regex(body.error, /^session store unavailable: /);
  t.is(body.replica, 'r1');
  t.is(response.headers.get('set-cookie'), null);
});
