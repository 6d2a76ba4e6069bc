// Every process the benchmark starts (redis-server, sessiond, proxy, haproxy, backends, wrk) goes
// through one ChildProcesses set, so that one call, or the process exiting for any reason, stops
// them all. Nothing here ever signals a process it did not spawn.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { diesWithParent } from '../demo/parent-death.ts';
import { portAnswers } from '../demo/ports.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { freePort } from '../demo/ports.ts';

export interface SpawnOptions {
  /** Short name for error messages ("sessiond", "haproxy"). */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
}

/** A started child: its output is kept (bounded) for error messages and for parsing (wrk). */
export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything it wrote to stdout, up to `MAX_OUTPUT_CHARS`. */
  stdout(): string;
  /** Calls `listener` with every later chunk of stdout (kept or not); returns an unsubscribe function. */
  onStdout(listener: (text: string) => void): () => void;
  /** The last lines of stdout and stderr, for error messages. */
  tail(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

const MAX_OUTPUT_CHARS = 1_000_000;
const TAIL_CHARS = 4000;

export class ChildProcesses {
  #children = new Set<Child>();
  #tempDirs = new Set<string>();
  #onExit = (): void => this.killAllNow();

  constructor() {
    // 'exit' handlers must be synchronous: SIGKILL is, and it is the last chance to clean up.
    process.on('exit', this.#onExit);
  }

  start(options: SpawnOptions): Child {
    // Killed by the kernel should this process die without cleaning up (kill -9, the time limit).
    const { command, args } = diesWithParent(options.command, options.args);
    const child = spawn(command, args, {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let tail = '';
    const listeners = new Set<(text: string) => void>();
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const listener of listeners) listener(text);
      if (stdout.length < MAX_OUTPUT_CHARS) stdout += text;
      tail = (tail + text).slice(-TAIL_CHARS);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-TAIL_CHARS);
    });
    const exited = new Promise<number | string>((resolve) => {
      child.once('error', (error) => {
        tail += `\n${error.message}`;
        resolve(-1);
      });
      child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    });
    const handle: Child = { name: options.name, process: child, stdout: () => stdout, tail: () => tail, exited,
      onStdout: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    this.#children.add(handle);
    void exited.then(() => this.#children.delete(handle));
    return handle;
  }

  /** A fresh directory under the system temp dir, removed by removeTempDir() or on exit at the latest. */
  makeTempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.#tempDirs.add(dir);
    return dir;
  }

  removeTempDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.#tempDirs.delete(dir);
  }

  /** Process ids of the children still running. */
  pids(): number[] {
    return [...this.#children].filter(isRunning).map((child) => child.process.pid!);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  async stop(child: Child, graceMs = 2000): Promise<void> {
    if (!isRunning(child)) return;
    child.process.kill('SIGTERM');
    const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
    await child.exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 2000): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.stop(child, graceMs)));
  }

  /** Synchronous last resort (process exit, fatal error): SIGKILL every child still running. */
  killAllNow(): void {
    for (const child of this.#children) if (isRunning(child)) child.process.kill('SIGKILL');
    for (const dir of this.#tempDirs) this.removeTempDir(dir);
  }

  dispose(): void {
    this.killAllNow();
    process.off('exit', this.#onExit);
  }
}

export function isRunning(child: Child): boolean {
  return child.process.exitCode === null && child.process.signalCode === null && child.process.pid !== undefined;
}

/** Waits until `port` accepts TCP connections; fails early when `child` exits, late after `timeoutMs`. */
export async function waitForPort(port: number, child: Child, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portAnswers(port))) {
    if (!isRunning(child)) throw new Error(`${child.name} exited before listening on ${port}:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not listen on ${port} within ${timeoutMs} ms:\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

