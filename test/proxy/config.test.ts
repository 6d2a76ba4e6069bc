// Configuration: every problem reported by path, defaults applied, secrets resolved, frozen; and
// the CLI refusing to start on a bad file.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PROXY_OPTIONS, ProxyError, parseProxyConfig } from '../../proxy/index.ts';

const minimal = { keys: ['0123456789abcdef'], pools: { app: { backends: [{ id: 'a', url: 'http://127.0.0.1:3000' }] } }, routes: [{ name: 'main', pool: 'app' }] };

function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseProxyConfig(raw, { env });
  } catch (error) {
    if (error instanceof ProxyError && error.code === 'PRX_ERR_CONFIG_INVALID') return error.issues;
    throw error;
  }
  return [];
}

test('every structural problem is listed with its path', (t) => {
  const issues = issuesOf({
    keys: [],
    listen: { port: 'x' },
    pools: { app: { backends: [{ id: 'has space', url: 'ftp://x' }], health: { intervalMs: 5 }, outlier: { typo: 1 } } },
    routes: [{ name: 'a', pool: 'app' }, { name: 'b', pool: 'app' }, { name: 'c', pool: 'app', affinity: 'sticky', key: { type: 'ip' } }],
  });
  t.deepEqual(issues, [
    'listen.port: Invalid input: expected number, received string',
    'keys: expected at least one key',
    'pools.app.backends[0].id: expected 1-128 characters of A-Z a-z 0-9 . _ ~ : @ [ ] -',
    'pools.app.backends[0].url: expected an http(s) origin such as http://10.0.0.5:3000',
    'pools.app.health.intervalMs: Too small: expected number to be >=50',
    'pools.app.outlier.typo: unknown option',
    'routes[2].affinity: expected none | soft | hard',
    'routes[2].key.type: expected { type: cookie } | { type: header, name } | { type: app-cookie, name }',
  ]);
});

test('cross-reference problems are listed with their paths', (t) => {
  const issues = issuesOf({
    keys: ['short', { env: 'MISSING_KEY' }, { file: '/nonexistent/key' }],
    admin: { token: { env: 'MISSING_TOKEN' } },
    pools: { app: { backends: [{ id: 'a', url: 'http://127.0.0.1:1' }] }, other: { backends: [{ id: 'a', url: 'http://127.0.0.1:2' }] }, dnsless: { dns: { name: 'app' } } },
    routes: [{ name: 'a', pool: 'app' }, { name: 'a', pool: 'nope' }, { name: 'c', pool: 'app', match: { pathPrefix: '/' } }],
  });
  t.deepEqual(issues, ['pools.dnsless.dns.port: required when dns.type is a']);
  const second = issuesOf({ ...minimal, keys: ['short', { env: 'MISSING_KEY' }, { file: '/nonexistent/key' }], admin: { token: { env: 'MISSING_TOKEN' } }, pools: { app: minimal.pools.app, other: { backends: [{ id: 'a', url: 'http://127.0.0.1:2' }] } }, routes: [{ name: 'a', pool: 'app' }, { name: 'a', pool: 'nope' }, { name: 'c', pool: 'app' }] });
  t.deepEqual(second, [
    'keys[0]: expected at least 16 characters',
    'keys[1].env: environment variable MISSING_KEY is not set',
    'keys[2].file: cannot read /nonexistent/key (ENOENT)',
    'admin.token.env: environment variable MISSING_TOKEN is not set',
    'pools.other.backends[0].id: duplicate backend id "a" (also in pools.app)',
    'routes[1].name: duplicate route name "a"',
    'routes[1].pool: unknown pool "nope" (defined: app, other)',
    'routes[1].match: same host and pathPrefix as routes[0]',
    'routes[2].match: same host and pathPrefix as routes[0]',
  ]);
});

test('defaults are applied, secrets resolved, and the result is frozen', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickless-config-'));
  writeFileSync(join(dir, 'key'), 'file-key-0123456789abcdef\n');
  const config = parseProxyConfig({ ...minimal, keys: [{ env: 'PIN_KEY' }, { file: 'key' }], admin: { token: { env: 'ADMIN' } } }, { env: { PIN_KEY: 'env-key-0123456789abcdef', ADMIN: 'tok' }, baseDir: dir });
  t.deepEqual(config.keys, ['env-key-0123456789abcdef', 'file-key-0123456789abcdef']);
  t.is(config.admin?.token, 'tok');
  t.is(config.admin?.host, DEFAULT_PROXY_OPTIONS.admin.host);
  const route = config.routes[0]!;
  t.is(route.affinity, 'soft');
  t.deepEqual(route.key, { type: 'cookie' });
  t.like(route.cookie, DEFAULT_PROXY_OPTIONS.route.cookie);
  t.like(route.timeouts, DEFAULT_PROXY_OPTIONS.route.timeouts);
  t.is(config.pools['app']!.outlier.consecutiveFailures, DEFAULT_PROXY_OPTIONS.pool.outlier.consecutiveFailures);
  t.is(config.pools['app']!.health, undefined, 'active checks are opt-in');
  t.true(Object.isFrozen(config) && Object.isFrozen(route.cookie));
});

test('the CLI refuses an invalid file and prints every problem by path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickless-cli-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, ['keys: [short]', 'pools:', '  app:', '    backends: [{ id: a, url: "http://127.0.0.1:1" }]', 'routes:', '  - { name: a, pool: app }', '  - { name: b, pool: app, match: { pathPrefix: /b } }', '  - { name: c, pool: app, affinity: sticky }', ''].join('\n'));
  const main = fileURLToPath(new URL('../../proxy/main.ts', import.meta.url));
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [main, '--config', file], { timeout: 60_000 }, (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }));
  });
  t.is(code, 1);
  t.true(stderr.includes('PRX_ERR_CONFIG_INVALID'));
  t.true(stderr.includes('routes[2].affinity: expected none | soft | hard'), stderr);
});

test('slow-client limits: defaults applied, and a whole-request timeout shorter than the header timeout refused', (t) => {
  const config = parseProxyConfig(minimal);
  t.like(config.listen, { requestHeadersTimeoutMs: 30_000, requestTimeoutMs: 300_000, requestBodyIdleTimeoutMs: 30_000, requestBodyBufferBytes: 65_536 });
  t.is(config.pools['app']!.maxUploadConnections, undefined, 'absent: half of connections');
  t.is(config.routes[0]!.timeouts.tunnelIdleMs, 300_000);
  t.deepEqual(issuesOf({ ...minimal, listen: { requestHeadersTimeoutMs: 5_000, requestTimeoutMs: 1_000 } }), ['listen.requestTimeoutMs: expected 0 or at least requestHeadersTimeoutMs (5000)']);
  t.deepEqual(issuesOf({ ...minimal, listen: { requestHeadersTimeoutMs: 5_000, requestTimeoutMs: 0 } }), []);
});
