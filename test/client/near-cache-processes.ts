// Client processes for the near-cache tests: fork test/client/near-cache-worker.ts and call it.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { WorkerRead, WorkerReply, WorkerRequest } from './near-cache-worker.ts';

const WORKER = fileURLToPath(new URL('./near-cache-worker.ts', import.meta.url));

type Request = WorkerRequest extends infer R ? (R extends { seq: number } ? Omit<R, 'seq'> : never) : never;

/** A failure the worker's client reported: its SessionError code. */
export class WorkerError extends Error {
  readonly code: string;
  readonly currentVersion: number | undefined;

  constructor(code: string, currentVersion: number | undefined, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
    this.currentVersion = currentVersion;
  }
}

export interface ClientProcess {
  child: ChildProcess;
  call<T = unknown>(request: Request): Promise<T>;
  get(id: string, minVersion?: number): Promise<WorkerRead>;
}

/** Forks a worker on `address` / `namespace`; it exits in teardown. Resolves once its client is built. */
export async function spawnClientProcess(t: ExecutionContext, address: string, namespace: string): Promise<ClientProcess> {
  const child = fork(WORKER, [address, namespace], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => {
    if (child.connected) child.disconnect();
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
  let seq = 0;
  const pending = new Map<number, (reply: WorkerReply) => void>();
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(0, () => resolve());
    child.once('exit', (code) => reject(new Error(`client process exited with ${code}`)));
  });
  child.on('message', (reply: WorkerReply) => {
    pending.get(reply.seq)?.(reply);
    pending.delete(reply.seq);
  });
  await ready;
  const call = <T>(request: Request): Promise<T> => new Promise<T>((resolve, reject) => {
    const n = ++seq;
    pending.set(n, (reply) => (reply.ok ? resolve(reply.value as T) : reject(new WorkerError(reply.code, reply.currentVersion, reply.message))));
    child.send({ ...request, seq: n });
  });
  return { child, call, get: (id, minVersion) => call<WorkerRead>({ op: 'get', id, minVersion }) };
}
