// The local stack's restart of a killed process (the scenario's chaos, the dashboard's restart
// button): the process is up when it says it listens, not when its port answers. A stranger that
// took the port while the process was down makes the restart fail, naming the cause, instead of
// being handed to the proxy as the replica.
import { createServer } from 'node:http';
import { once } from 'node:events';
import test from 'ava';
import { ManagedProcess, nodeScript } from '../../demo/managed-process.ts';
import { freePort } from '../../demo/ports.ts';

const FIXTURE = new URL('./listening-child.ts', import.meta.url);

async function body(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
  return response.text();
}

test('a restart whose port another program took meanwhile fails naming EADDRINUSE; the stranger keeps its port', async (t) => {
  t.timeout(120_000);
  const port = await freePort();
  const child = new ManagedProcess({ name: 'replica', ...nodeScript(FIXTURE, [String(port)]), port });
  t.teardown(() => child.kill());
  await child.start();
  t.is(await body(port), 'child', 'the first start listens itself');

  await child.kill();
  const stranger = createServer((_req, res) => res.end('stranger'));
  stranger.listen(port, '127.0.0.1');
  await once(stranger, 'listening');
  t.teardown(() => stranger.close());

  const error = await t.throwsAsync(child.start());
  t.regex(error.message, /replica exited during start/);
  t.regex(error.message, /EADDRINUSE/, 'the tail of its output names the cause');
  t.false(child.alive);
  t.is(await body(port), 'stranger', 'the stranger still holds the port');

  stranger.close();
  await once(stranger, 'close');
  await child.start();
  t.is(await body(port), 'child', 'once the port is free again the restart works');
});
