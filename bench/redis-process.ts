// A throwaway redis-server for the benchmark: its own free loopback port, no persistence, its own
// temporary directory. Never the Redis on 6379, never FLUSHALL on anything.
import { Redis } from 'ioredis';
import { freePort, type Child, type ChildProcesses } from './child-processes.ts';

export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  /** Process id, for CPU accounting. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface RedisProcessOptions {
  /** Start as a replica of this port (on 127.0.0.1) and wait until its link is up. */
  replicaOfPort?: number | undefined;
}

export async function startRedis(children: ChildProcesses, options: RedisProcessOptions = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = children.makeTempDir('stickless-bench-redis-');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', '--daemonize', 'no'];
  if (options.replicaOfPort !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOfPort));
  const child = children.start({ name: `redis-server:${port}`, command: 'redis-server', args });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await children.stop(child);
    children.removeTempDir(dir);
  };
  try {
    await waitForRedis(url, child, options.replicaOfPort !== undefined);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, pid: child.process.pid, stop };
}

/** Waits until `url` answers PING (and, for a replica, its link to the primary is up); fails early when `child` exits. */
export async function waitForRedis(url: string, child: Child, replica: boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500, commandTimeout: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      if (!replica || /master_link_status:up/.test(await client.info('replication'))) return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} not ready within ${timeoutMs} ms:\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
