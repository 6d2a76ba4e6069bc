// Pins learned from the response (route `learn`) and pinWhen, end to end with real HTTP backends:
// the client sees the backend's value wrapped with a signed pin, the backend only its own value;
// two proxy instances agree; unknown or forged values: hard → 404 PRX_ERR_UNKNOWN_LEARNED_PIN,
// soft → balanced and forwarded unchanged.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import WebSocket, { WebSocketServer } from 'ws';
import { call, startProxy, testConfig } from '../helpers/proxy-harness.ts';

interface AppBackend {
  id: string;
  url: string;
}

/**
 * An app with its own sessions: /init answers with a new `mcp-session-id` header and a new
 * JSESSIONID cookie; every answer echoes the id and the session values it received. A WebSocket
 * handshake on /live starts a session too (the 101 sets JSESSIONID) and its first message is the id.
 */
async function startApp(t: ExecutionContext, id: string): Promise<AppBackend> {
  let sessions = 0;
  const server: Server = createServer((req, res) => {
    const headers: Record<string, string | string[]> = { 'content-type': 'application/json' };
    if (req.url?.endsWith('/init')) {
      sessions++;
      headers['mcp-session-id'] = `${id}-mcp-${sessions}`;
      headers['set-cookie'] = [`JSESSIONID=${id}-j${sessions}; Path=/; HttpOnly`, 'theme=dark; Path=/'];
    }
    req.resume();
    req.on('end', () => res.writeHead(200, headers).end(JSON.stringify({ id, mcp: req.headers['mcp-session-id'] ?? null, cookie: req.headers.cookie ?? null })));
  });
  const sockets = new WebSocketServer({ server });
  sockets.on('headers', (headers) => headers.push(`Set-Cookie: JSESSIONID=${id}-ws${++sessions}; Path=/; HttpOnly`));
  sockets.on('connection', (socket) => socket.send(id));
  t.teardown(() => {
    for (const client of sockets.clients) client.terminate();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined));
  t.teardown(() => server.closeAllConnections());
  return { id, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function setup(t: ExecutionContext, routes: unknown[]) {
  const apps = [await startApp(t, 'a'), await startApp(t, 'b'), await startApp(t, 'c')];
  const raw = testConfig(apps, { routes });
  return { raw, first: await startProxy(t, raw), second: await startProxy(t, raw) };
}

test('a learned header value is wrapped on the way out, unwrapped on the way in, and every instance agrees', async (t) => {
  const { first, second } = await setup(t, [{ name: 'mcp', pool: 'app', affinity: 'hard', learn: { responseHeader: 'Mcp-Session-Id' } }]);
  const init = await call(`${first.url}/init`);
  t.is(init.status, 200);
  t.is(init.affinity, 'new', 'the response that sets the value starts the pin');
  t.is(init.pin, undefined, 'no stickless cookie on a learn route');
  const wrapped = String(init.headers['mcp-session-id']);
  const raw = `${init.backend}-mcp-1`;
  t.true(wrapped.endsWith(`~${raw}`), wrapped);
  t.not(wrapped, raw);

  for (const proxy of [first, second, first, second]) {
    const reply = await call(`${proxy.url}/tool`, { headers: { 'mcp-session-id': wrapped } });
    t.like(reply, { status: 200, backend: init.backend, affinity: 'hit' });
    t.is(reply.json().mcp, raw, 'the backend sees only its own value');
  }

  const tampered = wrapped.replace(/~.*$/, `~${init.backend === 'a' ? 'b' : 'a'}-mcp-1`);
  for (const forged of ['no-pin-at-all', tampered, `x${wrapped}`]) {
    const reply = await call(`${first.url}/tool`, { headers: { 'mcp-session-id': forged } });
    t.is(reply.status, 404, forged);
    t.is(reply.json().error.code, 'PRX_ERR_UNKNOWN_LEARNED_PIN', forged);
  }
  t.like(await call(`${first.url}/tool`), { status: 200, affinity: 'none' }, 'no value: balanced, nothing to pin');
});

test('soft: a value the proxy did not issue is balanced and forwarded unchanged', async (t) => {
  const { first } = await setup(t, [{ name: 'mcp', pool: 'app', affinity: 'soft', learn: { responseHeader: 'mcp-session-id' } }]);
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const reply = await call(`${first.url}/tool`, { headers: { 'mcp-session-id': 'forged-value' } });
    t.is(reply.status, 200);
    t.is(reply.json().mcp, 'forged-value');
    seen.add(reply.backend!);
  }
  t.true(seen.size > 1, 'balanced over the pool');
});

test('a learned cookie keeps its attributes, other cookies pass untouched, and the backend gets its raw value', async (t) => {
  const { first, second } = await setup(t, [{ name: 'shop', pool: 'app', affinity: 'hard', learn: { responseCookie: 'JSESSIONID' } }]);
  const init = await call(`${first.url}/init`);
  const setCookie = init.headers['set-cookie'] as string[];
  const jsession = setCookie.find((c) => c.startsWith('JSESSIONID='))!;
  t.regex(jsession, /^JSESSIONID=[A-Za-z0-9_.-]+~[abc]-j1; Path=\/; HttpOnly$/);
  t.true(setCookie.includes('theme=dark; Path=/'));
  const wrapped = jsession.slice('JSESSIONID='.length, jsession.indexOf(';'));
  for (const proxy of [first, second]) {
    const reply = await call(`${proxy.url}/cart`, { cookie: `theme=dark; JSESSIONID=${wrapped}` });
    t.like(reply, { backend: init.backend, affinity: 'hit' });
    t.is(reply.json().cookie, `theme=dark; JSESSIONID=${init.backend}-j1`);
  }
  const forged = await call(`${first.url}/cart`, { cookie: `JSESSIONID=${init.backend}-j1` });
  t.is(forged.status, 404);
  t.is(forged.json().error.code, 'PRX_ERR_UNKNOWN_LEARNED_PIN');
});

test('a learned cookie set by a WebSocket handshake (the 101) is wrapped too, and pins the requests that carry it', async (t) => {
  const { first, second } = await setup(t, [{ name: 'live', pool: 'app', affinity: 'hard', learn: { responseCookie: 'JSESSIONID' } }]);
  const socket = new WebSocket(`${first.url.replace('http', 'ws')}/live`, { handshakeTimeout: 10_000 });
  t.teardown(() => socket.terminate());
  const upgrade = once(socket, 'upgrade');
  const hello = once(socket, 'message');
  const [response] = (await upgrade) as [{ headers: Record<string, string | string[] | undefined> }];
  const backend = String((await hello)[0]);
  t.is(response.headers['x-stickless-backend'], backend);
  t.is(response.headers['x-stickless-affinity'], 'new');
  const jsession = (response.headers['set-cookie'] as string[]).find((c) => c.startsWith('JSESSIONID='))!;
  t.regex(jsession, new RegExp(`^JSESSIONID=[A-Za-z0-9_.-]+~${backend}-ws1; Path=/; HttpOnly$`));
  const wrapped = jsession.slice('JSESSIONID='.length, jsession.indexOf(';'));
  for (const proxy of [first, second]) {
    const reply = await call(`${proxy.url}/cart`, { cookie: `JSESSIONID=${wrapped}` });
    t.like(reply, { backend, affinity: 'hit' });
    t.is(reply.json().cookie, `JSESSIONID=${backend}-ws1`, 'the backend gets its own value');
  }
});

test('pinWhen: anonymous traffic is balanced without a pin; the response that sets the app cookie pins to its backend', async (t) => {
  const { first } = await setup(t, [{ name: 'app', pool: 'app', affinity: 'hard', pinWhen: { cookie: 'JSESSIONID' } }]);
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const reply = await call(`${first.url}/browse`);
    t.like(reply, { status: 200, affinity: 'none', pin: undefined });
    seen.add(reply.backend!);
  }
  t.true(seen.size > 1, 'anonymous traffic is balanced freely');
  const login = await call(`${first.url}/init`);
  t.is(login.affinity, 'new');
  t.truthy(login.pin, 'the pin comes with the app cookie');
  for (let i = 0; i < 5; i++) t.like(await call(`${first.url}/cart`, { cookie: `${login.pin}; JSESSIONID=x` }), { backend: login.backend, affinity: 'hit' });
  const carrying = await call(`${first.url}/cart`, { cookie: 'JSESSIONID=from-before' });
  t.is(carrying.affinity, 'new', 'a request already carrying the app cookie is pinned at once');
  t.truthy(carrying.pin);
});

test('learn and pinWhen are validated against the key', async (t) => {
  const { parseProxyConfig } = await import('../../proxy/config.ts');
  const base = testConfig([{ id: 'a', url: 'http://127.0.0.1:1' }]);
  const error = t.throws(() =>
    parseProxyConfig({
      ...base,
      routes: [
        { name: 'x', pool: 'app', key: { type: 'header', name: 'x-user' }, learn: { responseHeader: 'mcp-session-id' } },
        { name: 'y', pool: 'app', match: { pathPrefix: '/y' }, learn: { responseCookie: 'SID' }, pinWhen: { cookie: 'SID' } },
      ],
    }),
  ) as Error & { issues: string[] };
  t.true(error.issues.some((i) => i.startsWith('routes[0].learn: a learned pin is the route')), error.message);
  t.true(error.issues.some((i) => i.startsWith('routes[1].pinWhen: not with learn')), error.message);
  const shape = t.throws(() => parseProxyConfig({ ...base, routes: [{ name: 'z', pool: 'app', learn: { responseBody: 'id' } }] })) as Error & { issues: string[] };
  t.deepEqual(shape.issues, ['routes[0].learn: expected { responseHeader: NAME } or { responseCookie: NAME }']);
});

test('a wrapped value is bound to its route, its name and its raw value, and only its canonical text verifies', async (t) => {
  const { LearnedPin } = await import('../../proxy/learned-pin.ts');
  const KEY = 'key-a-0123456789abcdef';
  const codec = new LearnedPin([KEY], 'mcp', { responseHeader: 'mcp-session-id' });
  const wrapped = codec.wrap('app@10.0.0.5:3000', 'sess-1', Date.UTC(2026, 0, 1));
  t.like(codec.read({ 'mcp-session-id': wrapped }), { kind: 'pinned', backendId: 'app@10.0.0.5:3000', raw: 'sess-1' });
  t.like(new LearnedPin([KEY], 'other', { responseHeader: 'mcp-session-id' }).read({ 'mcp-session-id': wrapped }), { kind: 'unknown' }, 'another route');
  t.like(new LearnedPin([KEY], 'mcp', { responseHeader: 'x-session' }).read({ 'x-session': wrapped }), { kind: 'unknown' }, 'another name');
  t.like(new LearnedPin(['key-b-0123456789abcdef', KEY], 'mcp', { responseHeader: 'mcp-session-id' }).read({ 'mcp-session-id': wrapped }), { kind: 'pinned' }, 'a retired key still verifies while listed');
  // Every one-character change of the pin part (before the ~) must fail, including ones that decode to the same bytes.
  const tilde = wrapped.indexOf('~');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
  let accepted = 0;
  for (let i = 0; i < tilde; i++) {
    for (const c of alphabet) {
      if (c === wrapped[i]) continue;
      const mutated = `${wrapped.slice(0, i)}${c}${wrapped.slice(i + 1)}`;
      if (codec.read({ 'mcp-session-id': mutated })?.kind === 'pinned') accepted++;
    }
  }
  t.is(accepted, 0);
  t.like(codec.read({ 'mcp-session-id': `${wrapped.slice(0, tilde)}~sess-2` }), { kind: 'unknown' }, 'another raw value under the same pin');
});
