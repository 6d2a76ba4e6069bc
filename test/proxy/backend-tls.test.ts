// https backends signed by a private CA: a pool's `tls.caFile` is what the forwarding path, the
// health checks and WebSocket upgrades trust for that pool; without it the same backend is refused
// (Node's bundled roots do not know the CA). Real https servers with certificates from a test CA.
import test from 'ava';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ExecutionContext } from 'ava';
import WebSocket, { WebSocketServer } from 'ws';
import { parseProxyConfig } from '../../proxy/config.ts';
import type { DiscoveredAddress } from '../../proxy/discovery-dns.ts';
import { backendState, call, startProxy, testConfig, waitFor } from '../helpers/proxy-harness.ts';
import { createTestPki } from '../helpers/tls.ts';

interface HttpsBackend {
  url: string;
  /** Paths of the requests it received, health checks included. */
  received: string[];
}

/** `clientCa`: require a client certificate of that CA (mTLS); the body then names its CN. */
async function startHttpsBackend(t: ExecutionContext, certFile: string, keyFile: string, clientCa?: string): Promise<HttpsBackend> {
  const received: string[] = [];
  const mtls = clientCa === undefined ? {} : { requestCert: true, rejectUnauthorized: true, ca: readFileSync(clientCa) };
  const server: Server = createHttpsServer({ key: readFileSync(keyFile), cert: readFileSync(certFile), ...mtls }, (req, res) => {
    received.push(req.url ?? '');
    res.setHeader('content-type', 'text/plain');
    const peer = clientCa === undefined ? '' : ` for ${String((req.socket as TLSSocket).getPeerCertificate().subject?.CN)}`;
    res.end(`tls backend ${req.url}${peer}`);
  });
  const sockets = new WebSocketServer({ server });
  sockets.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${String(data)}`)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const client of sockets.clients) client.terminate();
    server.closeAllConnections();
    server.close();
  });
  return { url: `https://localhost:${(server.address() as { port: number }).port}`, received };
}

test('a pool with tls.caFile reaches an https backend of that CA: requests, health checks and WebSockets', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.issueServer('backend');
  const backend = await startHttpsBackend(t, certificate.certFile, certificate.keyFile);
  const running = await startProxy(t, testConfig([{ id: 'secure', url: backend.url }], {}, {
    tls: { caFile: pki.caFile },
    health: { path: '/healthz', intervalMs: 100, timeoutMs: 2_000, rise: 1, fall: 1 },
  }));

  const reply = await call(`${running.url}/cart`);
  t.is(reply.status, 200);
  t.is(reply.text, 'tls backend /cart');
  t.true(backend.received.includes('/cart'), 'the backend received the request');
  await waitFor('two health checks over TLS', () => backend.received.filter((path) => path === '/healthz').length >= 2);
  t.is((await backendState(running, 'secure')).health, 'up');

  const socket = new WebSocket(`${running.url.replace('http', 'ws')}/chat`, { handshakeTimeout: 10_000 });
  t.teardown(() => socket.terminate());
  await once(socket, 'open');
  const answer = once(socket, 'message');
  socket.send('hi');
  t.is(String((await answer)[0]), 'echo:hi');
});

test('without tls.caFile the same backend fails verification: 502 PRX_ERR_UPSTREAM_CONNECT, nothing reaches it, health checks mark it down', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.issueServer('backend');
  const backend = await startHttpsBackend(t, certificate.certFile, certificate.keyFile);
  const forwarding = await startProxy(t, testConfig([{ id: 'secure', url: backend.url }]));
  const reply = await call(`${forwarding.url}/cart`);
  t.is(reply.status, 502);
  t.is(reply.json().error.code, 'PRX_ERR_UPSTREAM_CONNECT');
  const checking = await startProxy(t, testConfig([{ id: 'secure', url: backend.url }], {}, {
    health: { path: '/healthz', intervalMs: 100, timeoutMs: 2_000, rise: 1, fall: 1 },
  }));
  await waitFor('the health check to mark it down', async () => (await backendState(checking, 'secure')).health === 'down');
  t.deepEqual(backend.received, [], 'no request and no health check got through the TLS handshake');
});

test('a pool with tls.certFile and keyFile presents its client certificate to a backend that requires one (mTLS); without, nothing reaches it', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.issueServer('backend');
  const client = pki.issueClient('stickless-proxy');
  const backend = await startHttpsBackend(t, certificate.certFile, certificate.keyFile, pki.caFile);
  const withCertificate = await startProxy(t, testConfig([{ id: 'secure', url: backend.url }], {}, {
    tls: { caFile: pki.caFile, certFile: client.certFile, keyFile: client.keyFile },
    health: { path: '/healthz', intervalMs: 100, timeoutMs: 2_000, rise: 1, fall: 1 },
  }));
  t.is((await call(`${withCertificate.url}/cart`)).text, 'tls backend /cart for stickless-proxy');
  await waitFor('a health check with the client certificate', () => backend.received.includes('/healthz'));

  const without = await startProxy(t, testConfig([{ id: 'secure', url: backend.url }], {}, { tls: { caFile: pki.caFile } }));
  const refused = await call(`${without.url}/cart`);
  t.is(refused.status, 502);
  // TLS 1.3: the client's handshake is complete before the server checks its certificate, so the
  // refusal can arrive after the request was written (a reset) or before (a connect failure).
  t.true(['PRX_ERR_UPSTREAM_CONNECT', 'PRX_ERR_UPSTREAM_RESET'].includes(refused.json().error.code), refused.text);
  t.is(backend.received.filter((path) => path === '/cart').length, 1, 'the backend served nothing without a client certificate');
});

test('tls files are read with the configuration: an unreadable, empty-handed or mismatched file is named by its key', (t) => {
  const pki = createTestPki(t);
  const notPem = join(pki.dir, 'not-a-cert.txt');
  writeFileSync(notPem, 'hello\n');
  const config = (caFile: string) => testConfig([{ id: 'a', url: 'https://localhost:1' }], {}, { tls: { caFile } });
  const missing = t.throws(() => parseProxyConfig(config(join(pki.dir, 'absent.pem'))));
  t.regex(missing.message, /pools\.app\.tls\.caFile: cannot read .*absent\.pem \(ENOENT\)/);
  const wrong = t.throws(() => parseProxyConfig(config(notPem)));
  t.regex(wrong.message, /pools\.app\.tls\.caFile: .*not-a-cert\.txt holds no PEM certificate/);
  t.is(parseProxyConfig(config(pki.caFile)).pools['app']!.tls!.ca, readFileSync(pki.caFile, 'utf8'));

  const client = pki.issueClient('proxy');
  const other = pki.issueClient('other');
  const withTls = (tls: Record<string, string>) => testConfig([{ id: 'a', url: 'https://localhost:1' }], {}, { tls });
  t.regex(t.throws(() => parseProxyConfig(withTls({ certFile: client.certFile })))!.message, /pools\.app\.tls\.keyFile: certFile and keyFile go together/);
  t.regex(t.throws(() => parseProxyConfig(withTls({})))!.message, /pools\.app\.tls: expected caFile, or certFile and keyFile/);
  t.regex(t.throws(() => parseProxyConfig(withTls({ certFile: client.certFile, keyFile: client.certFile })))!.message, /pools\.app\.tls\.keyFile: .* holds no PEM private key/);
  t.regex(t.throws(() => parseProxyConfig(withTls({ certFile: client.certFile, keyFile: other.keyFile })))!.message, /pools\.app\.tls: .*key values mismatch/);
});

test('a reload that adds tls.caFile applies to static and DNS-discovered backends at once', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.issueServer('backend');
  const backend = await startHttpsBackend(t, certificate.certFile, certificate.keyFile);
  const port = Number(new URL(backend.url).port);
  const resolver = async (): Promise<DiscoveredAddress[]> => [{ address: '127.0.0.1', port }];
  const routes = [{ name: 'static', pool: 'app', affinity: 'none', match: { pathPrefix: '/static' } }, { name: 'found', pool: 'found', affinity: 'none', match: { pathPrefix: '/found' } }];
  const raw = (tls: Record<string, unknown>) => {
    const config = testConfig([{ id: 'secure', url: backend.url }], { routes }, tls);
    return { ...config, pools: { ...(config['pools'] as object), found: { backends: [], dns: { name: 'backend.internal', type: 'srv', protocol: 'https', intervalMs: 100 }, connectTimeoutMs: 1_000, ...tls } } };
  };
  const running = await startProxy(t, raw({}), { resolver });
  t.is((await call(`${running.url}/static/a`)).json().error.code, 'PRX_ERR_UPSTREAM_CONNECT');
  t.is((await call(`${running.url}/found/a`)).json().error.code, 'PRX_ERR_UPSTREAM_CONNECT');
  t.deepEqual(backend.received, []);

  running.proxy.reload(parseProxyConfig(raw({ tls: { caFile: pki.caFile } })));
  const statics = await call(`${running.url}/static/b`);
  const found = await call(`${running.url}/found/b`);
  t.is(statics.text, 'tls backend /static/b');
  t.is(found.text, 'tls backend /found/b');
  t.is(found.backend, `backend.internal@127.0.0.1:${port}`, 'the discovered backend kept its id');
});
