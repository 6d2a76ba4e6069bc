// A child that is not a node process dies with the process that started it, even when that process is
// killed with -9 (demo/parent-death.ts): what keeps a killed `npm start`, bench or crashed test
// worker from leaving redis-server running.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { diesWithParent } from '../../demo/parent-death.ts';

const CHILD = fileURLToPath(new URL('./parent-death-child.ts', import.meta.url));

/** Running and not a zombie: a reaped or zombie process has stopped running. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms for up to 30 s (a bound for a slow machine, not a speed limit). */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

test('a command started through diesWithParent gets SIGKILL when its parent is killed with -9', async (t) => {
  t.timeout(60_000);
  t.is(diesWithParent('sleep', ['1']).command, 'setpriv', 'setpriv (util-linux) is on PATH');
  const parent = spawn(process.execPath, [CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  let grandchild = 0;
  t.teardown(() => {
    parent.kill('SIGKILL');
    if (grandchild > 0 && running(grandchild)) process.kill(grandchild, 'SIGKILL');
  });
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  grandchild = Number(line.toString().trim());
  t.true(grandchild > 0 && running(grandchild), 'sleep runs under its parent');
  // setpriv execs the command once it has set the signal: then the pid is the command's own.
  const commandLine = () => readFileSync(`/proc/${grandchild}/cmdline`, 'utf8').split('\0').slice(0, 2);
  await until(() => commandLine()[0] === 'sleep');
  t.deepEqual(commandLine(), ['sleep', '600'], 'setpriv exec\'d the command: the pid is its own');

  parent.kill('SIGKILL');
  await once(parent, 'exit');
  await until(() => !running(grandchild));
  t.false(running(grandchild), 'sleep was killed with its parent');
});
