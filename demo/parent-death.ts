// A child that is not a node process (redis-server, haproxy, wrk) cannot preload exit-with-parent.ts,
// so a kill -9 of the process that started it (npm start, a bench, a crashed test worker) left it
// running for good. On Linux, `setpriv --pdeathsig` (util-linux) asks the kernel to signal the child
// when its parent dies, then execs the command: the pid stays the command's own, so signals (SIGSTOP
// in the chaos tests) and pid checks still reach it. Without setpriv the command runs as it is.
import { execFileSync } from 'node:child_process';

let setprivAvailable: boolean | undefined;

/** `command args` wrapped so that the kernel sends it SIGKILL once the process spawning it is gone. */
export function diesWithParent(command: string, args: readonly string[]): { command: string; args: string[] } {
  setprivAvailable ??= hasSetpriv();
  return setprivAvailable ? { command: 'setpriv', args: ['--pdeathsig', 'KILL', command, ...args] } : { command, args: [...args] };
}

function hasSetpriv(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}
