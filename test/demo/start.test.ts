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
