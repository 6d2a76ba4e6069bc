// The installable package: build dist/ (packaging/build.ts), `npm pack` it, install the tarball into a
// fresh app from the npm cache, and use a real sessiond through it from plain JavaScript, from a
// type-checked TypeScript app, and through the `stickless` bin.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const TYPES = join(import.meta.dirname, '..', '..', 'node_modules', '@types');

interface Outcome { code: number; stdout: string; stderr: string }
async function exec(file: string, args: string[], cwd: string): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
const npm = (args: string[], cwd: string): Promise<Outcome> => exec(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd);

const PLAIN_JS = `
import { SessionClient, sessionMiddleware } from 'stickless';
import { SessionClient as Same } from 'stickless/client';
const [address, namespace] = process.argv.slice(2);
const sessions = new SessionClient({ address, namespace, deadlineMs: 30000 });
const s = await sessions.create({ cart: [] }, { owner: 'ada' });
await sessions.patch(s.id, [{ append: 'cart', value: 'sku-1' }, { increment: 'visits' }]);
const read = await sessions.get(s.id);
await sessions.close();
console.log(JSON.stringify({ id: s.id, fields: read.fields, same: Same === SessionClient, middleware: typeof sessionMiddleware }));
`;

const TYPED_APP = `
import { SessionClient, SessionError, type SessionSnapshot } from 'stickless';
import { sticklessSession } from 'stickless/fastify';
const [address, namespace] = process.argv.slice(2) as [string, string];
const sessions = new SessionClient({ address, namespace, deadlineMs: 30_000 });
const created = await sessions.create({ user: 'grace' });
const read: SessionSnapshot | undefined = await sessions.get(created.id);
const visits: number = (await sessions.patch(created.id, [{ increment: 'visits', by: 2 }])).version;
try {
  await sessions.patch(created.id, [{ increment: 'user' }]);
} catch (error) {
  if (error instanceof SessionError) console.log(JSON.stringify({ code: error.code, user: read?.fields['user'], visits, plugin: typeof sticklessSession }));
}
await sessions.close();
`;

// Must not type-check: proves the app is checked against real declarations, not \`any\`.
const TYPE_ERROR_APP = `
import { SessionClient } from 'stickless';
const sessions = new SessionClient({ address: '127.0.0.1:1', namespace: 'n' });
await sessions.get(42);
`;

test('npm pack yields a tarball an app installs and uses from JavaScript, TypeScript and the bin', async (t) => {
  t.timeout(600_000, 'tsc build, npm pack and npm install on a busy machine');
  // Imported only now, under the test's own timeout: loading them took over a minute at load 50.
  const [{ SessionClient }, { buildPackage }, { startSessiond }] = await Promise.all([
    import('../../client/index.ts'), import('../../packaging/build.ts'), import('../helpers/servers.ts'),
  ]);
  const work = mkdtempSync(join(tmpdir(), 'stickless-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  const dist = buildPackage(join(work, 'dist'));
  const packed = await npm(['pack', dist, '--pack-destination', work, '--json'], work);
  t.is(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const shipped = info.files.map((f) => f.path);
  t.true(shipped.includes('client/index.js') && shipped.includes('client/index.d.ts'));
  t.true(shipped.includes('proto/stickless/session/v1/session.proto'));
  t.false(shipped.some((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')), 'no TypeScript sources to strip under node_modules');

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // --prefer-offline: tarballs come from the npm cache that installing this repository filled; npm asks
  // the registry only for what the cache lacks (package metadata, which `npm ci` does not cache).
  const installed = await npm(['install', join(work, info.filename), '--prefer-offline', '--no-audit', '--no-fund'], app);
  t.is(installed.code, 0, installed.stderr);
  const modules = join(app, 'node_modules');
  t.true(existsSync(join(modules, '@grpc', 'grpc-js')));
  // The client-only app got none of sessiond's, the proxy's or the tests' dependencies.
  for (const name of ['ioredis', 'pino', 'undici', 'zod', 'prom-client', 'ava', 'fastify', 'express', 'typescript']) {
    t.false(existsSync(join(modules, name)), `${name} must not be installed for a client-only app`);
  }

  const sessiond = await startSessiond(t, { store: 'memory' });
  const namespace = 'pack-test';
  const check = new SessionClient({ address: sessiond.address, namespace, deadlineMs: 30_000 });
  t.teardown(() => check.destroy());

  writeFileSync(join(app, 'plain.mjs'), PLAIN_JS);
  const plain = await exec(process.execPath, ['plain.mjs', sessiond.address, namespace], app);
  t.is(plain.code, 0, plain.stderr);
  const result = JSON.parse(plain.stdout) as { id: string; fields: unknown; same: boolean; middleware: string };
  t.deepEqual(result.fields, { cart: ['sku-1'], visits: 1 });
  t.true(result.same);
  t.is(result.middleware, 'function');
  t.deepEqual((await check.get(result.id))?.fields, { cart: ['sku-1'], visits: 1 });

  const tsconfig = {
    compilerOptions: {
      target: 'es2024', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true,
      erasableSyntaxOnly: true, verbatimModuleSyntax: true, typeRoots: [TYPES], types: ['node'],
    },
  };
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['app.ts'] }));
  writeFileSync(join(app, 'app.ts'), TYPED_APP);
  const typed = await exec(process.execPath, [TSC, '-p', 'tsconfig.json'], app);
  t.is(typed.code, 0, typed.stdout + typed.stderr);
  writeFileSync(join(app, 'tsconfig.bad.json'), JSON.stringify({ ...tsconfig, files: ['bad.ts'] }));
  writeFileSync(join(app, 'bad.ts'), TYPE_ERROR_APP);
  const bad = await exec(process.execPath, [TSC, '-p', 'tsconfig.bad.json'], app);
  t.not(bad.code, 0);
  t.regex(bad.stdout, /bad\.ts.*number.*not assignable to parameter of type 'string'/s);
  const ranTs = await exec(process.execPath, ['app.ts', sessiond.address, namespace], app);
  t.is(ranTs.code, 0, ranTs.stderr);
  t.deepEqual(JSON.parse(ranTs.stdout), { code: 'SESS_ERR_WRONG_TYPE', user: 'grace', visits: 2, plugin: 'function' });

  const bin = join(modules, '.bin', 'stickless');
  const help = await exec(bin, ['--help'], app);
  t.is(help.code, 0);
  t.regex(help.stdout, /session get\|ls\|rm\|watch\|revoke/);
  const got = await exec(bin, ['session', 'get', result.id, '--address', sessiond.address, '--namespace', namespace], app);
  t.is(got.code, 0, got.stderr);
  t.deepEqual((JSON.parse(got.stdout) as { fields: unknown }).fields, { cart: ['sku-1'], visits: 1 });
  const server = await exec(bin, ['sessiond'], app);
  t.is(server.code, 4);
  t.regex(server.stderr, /needs .*ioredis.*npm install/);
});
