// `stickless proxy routes | backends | set-affinity | drain` run as child processes against a real
// proxy's admin API: output, --json, --help, the token from env or file, and the exit codes.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { ADMIN_TOKEN, admin, call, startProxy, testConfig, type RunningProxy } from '../helpers/proxy-harness.ts';
import { startBackends } from '../helpers/upstream.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function stickless(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const clean = { ...process.env };
    delete clean['STICKLESS_ADMIN_TOKEN'];
    delete clean['STICKLESS_ADMIN_TOKEN_FILE'];
    delete clean['STICKLESS_ADMIN_URL'];
    execFile(process.execPath, [MAIN, ...args], { env: { ...clean, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

async function setup(t: import('ava').ExecutionContext): Promise<{ running: RunningProxy; env: Record<string, string> }> {
  const backends = await startBackends(t, ['a', 'b']);
  const running = await startProxy(t, testConfig(backends, { routes: [{ name: 'cart', pool: 'app', affinity: 'soft' }] }));
  return { running, env: { STICKLESS_ADMIN_URL: running.adminUrl, STICKLESS_ADMIN_TOKEN: ADMIN_TOKEN } };
}

test('routes and backends print tables, --json prints the admin answer', async (t) => {
  const { running, env } = await setup(t);
  const routes = await stickless(['proxy', 'routes'], env);
  t.is(routes.code, 0, routes.stderr);
  t.regex(routes.stdout, /^ROUTE\s+AFFINITY\s+POOL\s+MATCH\s+REQUESTS\ncart\s+soft\s+app\s+\*\/\s+0\n$/);
  const json = await stickless(['proxy', 'backends', '--json'], env);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout).map((b: { id: string; state: string }) => [b.id, b.state]), [['a', 'up'], ['b', 'up']]);
  const table = await stickless(['proxy', 'backends', '--admin', running.adminUrl], { STICKLESS_ADMIN_TOKEN: ADMIN_TOKEN });
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^BACKEND\s+POOL\s+STATE/);
  t.regex(table.stdout, /\na\s+app\s+up\s+1\s+0\s+0\s+0\n/);
});

test('set-affinity switches the route for the next request; drain --deadline drains', async (t) => {
  const { running, env } = await setup(t);
  const set = await stickless(['proxy', 'set-affinity', 'cart', 'hard'], env);
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /cart\s+hard \(file: soft\)/);
  t.is((await admin(running, 'GET', '/routes/cart')).json().affinity, 'hard');
  const none = await stickless(['proxy', 'set-affinity', 'cart', 'none', '--json'], env);
  t.is(JSON.parse(none.stdout).affinity, 'none');
  t.is((await call(running.url)).affinity, 'none', 'the next request sees the new mode');

  const before = Date.now();
  const drain = await stickless(['proxy', 'drain', 'b', '--deadline', '90s', '--json'], env);
  t.is(drain.code, 0, drain.stderr);
  const view = JSON.parse(drain.stdout);
  t.like(view, { id: 'b', state: 'draining', draining: true });
  t.true(Date.parse(view.drainDeadline) >= before + 89_000, 'the deadline is 90 s away');
});

test('the token comes from a file; a wrong or missing token, unknown names and bad arguments get distinct exit codes', async (t) => {
  const { running } = await setup(t);
  const dir = mkdtempSync(join(tmpdir(), 'stickless-cli-'));
  writeFileSync(join(dir, 'token'), `${ADMIN_TOKEN}\n`);
  writeFileSync(join(dir, 'wrong'), 'not-the-token\n');
  const url = { STICKLESS_ADMIN_URL: running.adminUrl };

  t.is((await stickless(['proxy', 'routes', '--token-file', join(dir, 'token')], url)).code, 0);
  t.is((await stickless(['proxy', 'routes'], { ...url, STICKLESS_ADMIN_TOKEN_FILE: join(dir, 'token') })).code, 0);

  const wrong = await stickless(['proxy', 'routes', '--token-file', join(dir, 'wrong')], url);
  t.is(wrong.code, 3);
  t.is(JSON.parse(wrong.stderr).error.code, 'PRX_ERR_UNAUTHORIZED');
  const missing = await stickless(['proxy', 'routes'], url);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /STICKLESS_ADMIN_TOKEN/);

  const env = { ...url, STICKLESS_ADMIN_TOKEN: ADMIN_TOKEN };
  const unknownRoute = await stickless(['proxy', 'set-affinity', 'nope', 'hard'], env);
  t.is(unknownRoute.code, 1);
  t.is(JSON.parse(unknownRoute.stderr).error.code, 'PRX_ERR_NOT_FOUND');
  t.is((await stickless(['proxy', 'drain', 'nope'], env)).code, 1);

  const badMode = await stickless(['proxy', 'set-affinity', 'cart', 'sticky'], env);
  t.is(badMode.code, 2);
  t.regex(badMode.stderr, /none \| soft \| hard/);
  t.is((await stickless(['proxy', 'drain', 'b', '--deadline', 'soon'], env)).code, 2);
  t.is((await stickless(['proxy', 'routes', 'extra'], env)).code, 2);
  t.is((await stickless(['proxy', 'routes', '--bogus'], env)).code, 2);
  t.is((await admin(running, 'GET', '/routes/cart')).json().affinity, 'soft', 'usage errors sent nothing');

  const unreachable = await stickless(['proxy', 'backends', '--admin', 'http://127.0.0.1:1', '--timeout-ms', '5000'], { STICKLESS_ADMIN_TOKEN: ADMIN_TOKEN });
  t.is(unreachable.code, 3);
  t.is(JSON.parse(unreachable.stderr).error.code, 'PRX_ERR_ADMIN_UNREACHABLE');
});

test('--help on each subcommand prints its usage and exits 0', async (t) => {
  for (const sub of ['routes', 'backends', 'set-affinity', 'drain']) {
    const help = await stickless(['proxy', sub, '--help']);
    t.is(help.code, 0, sub);
    t.true(help.stdout.startsWith(`Usage: stickless proxy ${sub}`), sub);
    t.regex(help.stdout, /Exit codes: 0 ok, 1 no such route or backend, 2 usage error/, sub);
  }
  const top = await stickless(['--help']);
  t.regex(top.stdout, /proxy routes\|backends\|set-affinity\|drain/);
});
