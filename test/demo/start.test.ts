// `npm start` refuses a port that is in use with a message naming the flag that changes it, before
// starting anything.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);

test('a port in use stops npm start with a clear message and exit status 2', async (t) => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const error = await t.throwsAsync(run(process.execPath, ['demo/start.ts', '--port', String(port), '--admin-port', '0', '--sessiond-port', '0'], {
    cwd: new URL('../../', import.meta.url).pathname,
    timeout: 30_000,
  })) as unknown as { code: number; stderr: string };
  t.is(error.code, 2);
  t.regex(error.stderr, new RegExp(`port ${port} \\(proxy\\) is in use: pass --port <port>`));
});

for (const [label, extra, store] of [['Redis', [], /Redis/], ['the memory store', ['--memory'], /embedded memory store \(asked for with --memory\)/]] as const) {
  test(`npm start on ${label} prints the URLs, serves the shops through the proxy, and Ctrl-C stops every process it started`, async (t) => {
    const { spawn } = await import('node:child_process');
    const { connect } = await import('node:net');
    const child = spawn(process.execPath, ['demo/start.ts', '--port', '0', '--admin-port', '0', '--sessiond-port', '0', ...extra], {
      cwd: new URL('../../', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('Ctrl-C stops everything')) {
      if (child.exitCode !== null || Date.now() > deadline) return t.fail(`npm start did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.regex(output.split('\n')[0]!, /^\[stickless\] session store: /, 'the first line names the session store');
    t.regex(output.split('\n')[0]!, store);
    const dashboard = /dashboard\s+(http:\/\/127\.0\.0\.1:(\d+)\/dashboard\/)/.exec(output);
    const sessiond = /sessiond\s+127\.0\.0\.1:(\d+)/.exec(output);
    t.truthy(dashboard && sessiond, output);
    const proxyPort = Number(dashboard![2]);
    const page = await fetch(dashboard![1]!, { signal: AbortSignal.timeout(5000) });
    t.is(page.status, 200);
    const cart = await fetch(`http://127.0.0.1:${proxyPort}/shop/api/cart`, { signal: AbortSignal.timeout(5000) });
    t.is(cart.status, 200);
    t.regex(cart.headers.get('x-stickless-backend') ?? '', /^central-\d$/);

    const { backends } = (await (await fetch(`http://127.0.0.1:${proxyPort}/dashboard/api/state`, { signal: AbortSignal.timeout(5000) })).json()) as { backends: Array<{ url: string }> };
    const ports = [proxyPort, Number(sessiond![1]), ...backends.map((b) => Number(new URL(b.url).port))];
    t.is(ports.length, 9, 'proxy, sessiond, 6 replicas and the dashboard');

    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.is(code, 0);
    const answers = (port: number) => new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    for (const port of ports) t.false(await answers(port), `port ${port} is closed after Ctrl-C`);
  });
}
