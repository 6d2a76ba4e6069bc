// issue 7, point 6: every bad flag, variable, file value or port stops sessiond with exit status 2
// and one line per problem that names the option as the user wrote it, never a stack trace; --help
// lists every option with its meaning and default. Serial: each test spawns node, and a busy machine
// finishes one at a time sooner than sixteen at once.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SERVER_OPTIONS, SERVER_OPTIONS, type ServerConfig } from '../../server/config.ts';
import { kebab } from '../../server/config-sources.ts';
import { spawnSessiond } from '../helpers/servers.ts';

const memory = { STICKLESS_STORE: 'memory', STICKLESS_LOG_LEVEL: 'silent' };

/** Runs sessiond and expects exit 2 with exactly one stderr line `sessiond: <name>: ...` matching `detail`. */
async function refusesWith(t: ExecutionContext, args: string[], env: Record<string, string>, name: string, detail: RegExp): Promise<string> {
  const sessiond = spawnSessiond(t, args, env);
  t.is(await sessiond.exited, 2, sessiond.stderr());
  const stderr = sessiond.stderr();
  const lines = stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `one line, got:\n${stderr}`);
  t.true(lines[0]!.startsWith(`sessiond: ${name}: `), `names ${name}: ${lines[0]}`);
  t.regex(lines[0]!, detail);
  t.false(/\n\s+at /.test(stderr), 'no stack trace');
  return lines[0]!;
}

async function busyPort(t: ExecutionContext): Promise<number> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as { port: number }).port;
}

test.serial('--listen with a port above 65535 is refused by flag name', async (t) => {
  await refusesWith(t, ['--listen', '127.0.0.1:99999'], memory, '--listen', /port from 0 to 65535, got "127\.0\.0\.1:99999"/);
});

test.serial('a busy --listen port is refused by flag name, after the configuration was accepted', async (t) => {
  const port = await busyPort(t);
  await refusesWith(t, ['--listen', `127.0.0.1:${port}`], memory, '--listen', new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
});

test.serial('a busy port given in STICKLESS_LISTEN is refused by the variable name', async (t) => {
  const port = await busyPort(t);
  await refusesWith(t, [], { ...memory, STICKLESS_LISTEN: `127.0.0.1:${port}` }, 'STICKLESS_LISTEN', /address already in use/);
});

test.serial('a busy metrics port is refused by its name', async (t) => {
  const port = await busyPort(t);
  await refusesWith(t, ['--listen', '127.0.0.1:0'], { ...memory, STICKLESS_METRICS_LISTEN: `127.0.0.1:${port}` }, 'STICKLESS_METRICS_LISTEN', /address already in use/);
});

test.serial('a bad environment variable is reported by its STICKLESS_* name, not the option name', async (t) => {
  await refusesWith(t, [], { ...memory, STICKLESS_MAX_FIELDS: 'many' }, 'STICKLESS_MAX_FIELDS', /whole number above 0, got "many"/);
});

test.serial('an unknown flag, a flag without its value and a stray argument are each one line', async (t) => {
  await Promise.all([
    refusesWith(t, ['--max-feilds', '3'], memory, '--max-feilds', /unknown option/),
    refusesWith(t, ['--listen'], memory, '--listen', /expects a value/),
    refusesWith(t, ['serve'], memory, 'serve', /unexpected argument/),
  ]);
});

test.serial('a bad config file value is reported by its key and file; an unreadable file by --config', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessiond-startup-'));
  const file = join(dir, 'sessiond.yaml');
  writeFileSync(file, 'maxPatchOps: 0\n');
  writeFileSync(join(dir, 'typo.yaml'), 'maxFeilds: 3\n');
  await Promise.all([
    refusesWith(t, ['--config', file], memory, `maxPatchOps (in ${file})`, /above 0, got 0/),
    refusesWith(t, ['--config', join(dir, 'missing.yaml')], memory, '--config', /no such file/),
    refusesWith(t, [], { ...memory, STICKLESS_CONFIG: join(dir, 'typo.yaml') }, `maxFeilds (in ${join(dir, 'typo.yaml')})`, /unknown option/),
  ]);
});

test.serial('a bad secret is named without showing it', async (t) => {
  const [line] = await Promise.all([
    refusesWith(t, [], { ...memory, STICKLESS_NAMESPACE_TOKENS: '{"shortsecret":["shop"]}' }, 'STICKLESS_NAMESPACE_TOKENS', /at least 16 characters/),
    refusesWith(t, [], { ...memory, STICKLESS_REDIS_PASSWORD_FILE: '/nonexistent/secret' }, 'STICKLESS_REDIS_PASSWORD_FILE', /cannot read \/nonexistent\/secret: no such file/),
  ]);
  t.false(line.includes('shortsecret'));
});

test.serial('TLS files that cannot be read are named by flag, and half a key pair by the missing half', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sessiond-startup-'));
  writeFileSync(join(dir, 'key.pem'), 'not a key\n');
  await Promise.all([
    refusesWith(t, ['--tls-cert-file', '/nonexistent/cert.pem', '--tls-key-file', join(dir, 'key.pem')], memory, '--tls-cert-file', /cannot read \/nonexistent\/cert\.pem: no such file/),
    refusesWith(t, [], { ...memory, STICKLESS_TLS_CERT_FILE: join(dir, 'key.pem') }, 'STICKLESS_TLS_CERT_FILE', /tlsCertFile and tlsKeyFile go together/),
  ]);
});

test.serial('--help lists every option with its flag, variable, meaning and default', async (t) => {
  const sessiond = spawnSessiond(t, ['--help'], {});
  t.is(await sessiond.exited, 0);
  const help = sessiond.stdout();
  for (const [option, info] of Object.entries(SERVER_OPTIONS) as Array<[keyof ServerConfig, typeof SERVER_OPTIONS[keyof ServerConfig]]>) {
    const block = help.slice(help.indexOf(`  --${kebab(option)} <value>\n`));
    t.true(help.includes(`  --${kebab(option)} <value>\n`), `--${kebab(option)} listed`);
    t.true(block.includes(info.help) && block.includes(info.env), `${option}: meaning and variable`);
    const value = (DEFAULT_SERVER_OPTIONS as Partial<Record<string, unknown>>)[option];
    if (typeof value === 'number' || (typeof value === 'string' && value !== '')) t.true(block.split('\n').slice(0, 3).join('\n').includes(`default: ${value}`), `${option} default`);
  }
});
