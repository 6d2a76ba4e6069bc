// `npm start`: every bad flag, port variable or busy port is one line naming it as written, exit 2,
// no stack trace, before anything starts; --help lists every flag; the stack serves and Ctrl-C stops it.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
// Serial: each test starts node processes (a whole stack for the last two), and a dozen at once on
// a busy 2-core machine is what makes them slow, not what they test.
const ROOT = new URL('../../', import.meta.url).pathname;
// A bound for a hang, below ava's 60 s: at load average 50 on 2 cores one `node demo/start.ts --bogus` took 31 s.
const CHILD_BOUND_MS = 50_000;
const EXIT_WITH_PARENT = new URL('../../demo/exit-with-parent.ts', import.meta.url).href;

/** Runs `node demo/start.ts ...args` expecting it to stop at once; resolves its exit code and output. */
async function startFails(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['demo/start.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: CHILD_BOUND_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    return error as { code: number; stdout: string; stderr: string };
  }
}

async function listening(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const FREE = ['--port', '0', '--admin-port', '0', '--sessiond-port', '0'];
const BAD_INPUT: Array<[title: string, args: string[], env: Record<string, string>, line: RegExp]> = [
  ['an unknown flag', ['--bogus'], {}, /^stickless: unknown option --bogus \(npm start -- --help lists the options\)$/],
  ['a misspelt flag with a value', ['--prot', '8081'], {}, /^stickless: unknown option --prot /],
  ['a single-dash word', ['-port', '8081'], {}, /^stickless: unknown option -port /],
  ['a stray argument', ['8081'], {}, /^stickless: unexpected argument "8081" /],
  ['a value for a switch', ['--memory=yes'], {}, /^stickless: --memory takes no value, not "yes"$/],
  ['a port flag without a value', ['--admin-port'], {}, /^stickless: --admin-port needs a value: a port number 0-65535$/],
  ['a port that is not a number', ['--port', 'http'], {}, /^stickless: --port must be a port number 0-65535, not "http"$/],
  ['a port above 65535', ['--sessiond-port=70000'], {}, /^stickless: --sessiond-port must be a port number 0-65535, not "70000"$/],
  ['a negative port', ['--port', '-1'], {}, /^stickless: --port must be a port number 0-65535, not "-1"$/],
  ['a bad PORT variable', [], { PORT: '80x' }, /^stickless: PORT must be a port number 0-65535, not "80x"$/],
  ['a bad SESSIOND_PORT variable', ['--port', '0'], { SESSIOND_PORT: '1.5' }, /^stickless: SESSIOND_PORT must be a port number 0-65535, not "1.5"$/],
  ['one port for two roles', ['--port', '40999', '--admin-port', '40999'], {}, /^stickless: --admin-port 40999 is also --port: give each its own port, or 0 for any free port$/],
];

for (const [title, args, env, line] of BAD_INPUT) {
  test.serial(`${title} stops npm start with one line naming it, exit status 2, no stack trace`, async (t) => {
    const result = await startFails(args, env);
    t.is(result.code, 2, result.stderr);
    t.is(result.stdout, '');
    t.deepEqual(result.stderr.split('\n').slice(1), [''], `one line:\n${result.stderr}`);
    t.regex(result.stderr.trimEnd(), line);
  });
}

test.serial('a busy admin port set by ADMIN_PORT is named as the variable; one held on 0.0.0.0 counts as busy', async (t) => {
  const { server, port } = await listening('0.0.0.0');
  t.teardown(() => server.close());
  const result = await startFails(['--port', '0', '--sessiond-port', '0'], { ADMIN_PORT: String(port) });
  t.is(result.code, 2, result.stderr);
  t.is(result.stderr, `stickless: port ${port} (proxy admin API) is in use: set ADMIN_PORT=<port>, or 0 for any free port\n`);
});

test.serial('--help lists every flag with its meaning and default, and every flag it lists is accepted', async (t) => {
  const { stdout } = await run(process.execPath, ['demo/start.ts', '--help'], { cwd: ROOT, timeout: CHILD_BOUND_MS });
  for (const [flag, fallback] of [['--port <port>', '8080'], ['--admin-port <port>', '9901'], ['--sessiond-port <port>', '50051'], ['--memory', 'off'], ['--verbose', 'off']] as const) {
    t.regex(stdout, new RegExp(`^  ${flag.replace(/[<>]/g, '.')}\\s+\\S.*\\n\\s+default: ${fallback}`, 'm'), `${flag}: meaning and default ${fallback}`);
  }
  t.regex(stdout, /^  -h, --help\s+print this help and exit$/m);
  const listed = [...stdout.matchAll(/^  (?:-h, )?(--[a-z-]+)/gm)].map((m) => m[1]!);
  t.deepEqual(listed, ['--port', '--admin-port', '--sessiond-port', '--memory', '--verbose', '--help']);
  const { stdout: short } = await run(process.execPath, ['demo/start.ts', '-h', '--verbose', '--memory', ...FREE], { cwd: ROOT, timeout: CHILD_BOUND_MS });
  t.is(short, stdout, 'every listed flag parses (with -h the stack is not started)');
});

test.serial('a port in use stops npm start with a clear message and exit status 2', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const error = await t.throwsAsync(run(process.execPath, ['demo/start.ts', '--port', String(port), '--admin-port', '0', '--sessiond-port', '0'], {
    cwd: new URL('../../', import.meta.url).pathname,
    timeout: CHILD_BOUND_MS,
  })) as unknown as { code: number; stderr: string };
  t.is(error.code, 2);
  t.regex(error.stderr, new RegExp(`port ${port} \\(proxy\\) is in use: pass --port <port>`));
});

const STOPS = [
  ['Redis', [], /Redis/, 'SIGINT', 'Ctrl-C stops every process it started'],
  // kill -9 runs no handler in npm start: its node children notice the closed IPC channel and stop.
  ['the memory store', ['--memory'], /embedded memory store \(asked for with --memory\)/, 'SIGKILL', 'kill -9 of it leaves none of its processes running'],
] as const;
for (const [label, extra, store, signal, stopped] of STOPS) {
  test.serial(`npm start on ${label} prints the URLs, serves the shops through the proxy, and ${stopped}`, async (t) => {
    // Nine processes to start: on a busy machine that alone can take longer than ava's 60 s.
    t.timeout(150_000);
    const { spawn } = await import('node:child_process');
    const { connect } = await import('node:net');
    // With demo/exit-with-parent.ts, npm start stops (and stops its children) if this worker dies.
    const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, 'demo/start.ts', '--port', '0', '--admin-port', '0', '--sessiond-port', '0', ...extra], {
      cwd: new URL('../../', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    t.teardown(() => {
      // SIGTERM, not SIGKILL: npm start then kills whatever it started, redis-server included.
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!output.includes('Ctrl-C stops everything')) {
      if (child.exitCode !== null || Date.now() > deadline) return t.fail(`npm start did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.regex(output.split('\n')[0]!, /^\[stickless\] session store: /, 'the first line names the session store');
    t.regex(output.split('\n')[0]!, store);
    const dashboard = /dashboard\s+(http:\/\/127\.0\.0\.1:(\d+)\/dashboard\/)/.exec(output);
    // On Redis two sessiond instances (the central replicas balance over both), on the memory store one.
    const sessiondPorts = [.../^\[stickless\]\s+sessiond\s+(127\.0\.0\.1:[^\n]+)$/m.exec(output)?.[1]?.matchAll(/127\.0\.0\.1:(\d+)/g) ?? []].map((m) => Number(m[1]));
    t.truthy(dashboard, output);
    t.is(sessiondPorts.length, label === 'Redis' ? 2 : 1, output);
    const proxyPort = Number(dashboard![2]);
    const page = await fetch(dashboard![1]!, { signal: AbortSignal.timeout(20_000) });
    t.is(page.status, 200);
    const cart = await fetch(`http://127.0.0.1:${proxyPort}/shop/api/cart`, { signal: AbortSignal.timeout(20_000) });
    t.is(cart.status, 200);
    t.regex(cart.headers.get('x-stickless-backend') ?? '', /^central-\d$/);

    const { backends } = (await (await fetch(`http://127.0.0.1:${proxyPort}/dashboard/api/state`, { signal: AbortSignal.timeout(20_000) })).json()) as { backends: Array<{ url: string }> };
    const ports = [proxyPort, ...sessiondPorts, ...backends.map((b) => Number(new URL(b.url).port))];
    t.is(ports.length, 11 + sessiondPorts.length, 'proxy, sessiond, 9 replicas (local, central, token) and the dashboard');

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const code = await exited;
    const answers = (port: number) => new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (signal === 'SIGINT') {
      t.is(code, 0);
      for (const port of ports) t.false(await answers(port), `port ${port} is closed after Ctrl-C`);
      return;
    }
    // The children stop on their own once they notice: poll, with a bound for a busy machine.
    const until = Date.now() + 30_000;
    let open = ports;
    while (open.length > 0 && Date.now() < until) {
      open = (await Promise.all(ports.map(async (port) => ((await answers(port)) ? [port] : [])))).flat();
      if (open.length > 0) await new Promise((r) => setTimeout(r, 200));
    }
    t.deepEqual(open, [], 'every port is closed after kill -9 of npm start');
  });
}
