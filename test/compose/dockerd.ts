// A private Docker engine for the compose test: its own socket, state in a temporary folder, and no
// changes to the host's network (no docker0 bridge, no iptables rules, no forwarding switched on).
// Compose's own network, its DNS and published ports on 127.0.0.1 still work without them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.ts';

export interface PrivateDockerd {
  /** unix:///…/docker.sock, for DOCKER_HOST. */
  host: string;
  /** The temporary folder holding its state and log. */
  dir: string;
  /** Stops the engine (its containers first), then removes its folder. Idempotent. */
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** Resolver that containers' embedded DNS forwards unknown names to (dockerd --dns). */
  dns: string;
  /** How long to wait for the engine to answer, in ms. */
  readyTimeoutMs: number;
}

export async function startDockerd(options: DockerdOptions): Promise<PrivateDockerd> {
  const dir = mkdtempSync(join(tmpdir(), 'stickless-dockerd-'));
  const host = `unix://${dir}/docker.sock`;
  const log = openSync(join(dir, 'dockerd.log'), 'a');
  const child: ChildProcess = spawn(
    'dockerd',
    [
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '--host', host,
      '--dns', options.dns,
      '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false',
    ],
    { stdio: ['ignore', log, log] },
  );
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // A network still defined when dockerd stops keeps its bridge (br-<id>) and route in the host's
    // namespace; a later run's network on the same subnet would then be unreachable from the host.
    const networks = exited ? { stdout: '' } : await run('docker', ['network', 'ls', '-q', '--no-trunc', '--filter', 'driver=bridge'], { env: { DOCKER_HOST: host }, allowFailure: true });
    const bridges = networks.stdout.split('\n').filter(Boolean).map((id) => `br-${id.slice(0, 12)}`);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exitedPromise;
      clearTimeout(timer);
    }
    // dockerd starts its own containerd; it stops it on a clean exit, not after SIGKILL.
    for (const pidFile of [join(dir, 'exec', 'containerd', 'containerd.pid'), join(dir, 'data', 'containerd', 'containerd.pid')]) {
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const bridge of bridges) {
      if (existsSync(`/sys/class/net/${bridge}`)) await run('ip', ['link', 'delete', bridge], { allowFailure: true });
    }
    // Overlay and netns mounts left by an unclean exit would make the removal fail.
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '').filter((path) => path.startsWith(dir));
    for (const path of mounts.reverse()) await run('umount', ['-l', path], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  const deadline = Date.now() + options.readyTimeoutMs;
  while (Date.now() < deadline && !exited) {
    const ping = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: host }, allowFailure: true });
    if (ping.code === 0) return { host, dir, stop };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const tail = readFileSync(join(dir, 'dockerd.log'), 'utf8').split('\n').slice(-15).join('\n');
  await stop();
  throw new Error(`dockerd did not answer within ${options.readyTimeoutMs} ms${exited ? ' (it exited)' : ''}:\n${tail}`);
}
