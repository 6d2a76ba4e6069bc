// A child process of the local stack that can be killed (-9, as a crash) and started again, and
// whose last output lines are kept for error messages. No child outlives the process that started
// it: every live one is killed when that process exits, and when that process is killed outright a
// node child given `nodeScript` stops (demo/exit-with-parent.ts) and any other gets SIGKILL from the
// kernel (demo/parent-death.ts). A node child is up once it reports listening on its port
// (demo/report-listening.ts), not when something answers there.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { diesWithParent } from './parent-death.ts';
import { portAnswers } from './ports.ts';
import type { ListeningReport } from './report-listening.ts';

const EXIT_WITH_PARENT = new URL('./exit-with-parent.ts', import.meta.url).href;
const REPORT_LISTENING = new URL('./report-listening.ts', import.meta.url).href;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** `process.execPath` running `script` with `args`, stopping by itself when its parent is gone. */
export function nodeScript(script: string | URL, args: string[] = []): { command: string; args: string[]; ipc: true } {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  return { command: process.execPath, args: ['--import', EXIT_WITH_PARENT, '--import', REPORT_LISTENING, path, ...args], ipc: true };
}

export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** The TCP port the process listens on once ready. */
  port: number;
  /** Where its output goes besides the kept tail (npm start prints nothing of it by default). */
  onOutput?: (name: string, line: string) => void;
  /** Open an IPC channel (a node child made with nodeScript() stops when it closes). */
  ipc?: boolean;
}

const TAIL_LINES = 40;

export class ManagedProcess {
  readonly name: string;
  readonly port: number;
  #options: ManagedProcessOptions;
  #child: ChildProcess | undefined;
  #tail: string[] = [];
  #stopped = false;

  constructor(options: ManagedProcessOptions) {
    this.#options = options;
    this.name = options.name;
    this.port = options.port;
  }

  /** Environment of the next start (a running process keeps what it started with). */
  get env(): Readonly<Record<string, string>> {
    return { ...this.#options.env };
  }

  set env(env: Record<string, string>) {
    this.#options = { ...this.#options, env: { ...env } };
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.alive ? this.#child?.pid : undefined;
  }

  /** Last lines of output, for error messages. */
  get tail(): string {
    return this.#tail.join('\n');
  }

  /**
   * Starts the process and waits until it listens on its port (or exits): a node child made with
   * nodeScript() says so over IPC, so a port some other program took meanwhile is never mistaken for
   * it; any other child is up when its port accepts connections. The bound is for a process that
   * never listens, not a speed limit: a busy machine can take many seconds.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive) return;
    this.#stopped = false;
    // A node child made with nodeScript() stops when the IPC channel closes; any other dies with us by the kernel's hand.
    const { command, args } = this.#options.ipc ? this.#options : diesWithParent(this.#options.command, this.#options.args);
    const child = spawn(command, args, {
      env: { ...process.env, ...this.#options.env },
      stdio: this.#options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.channel?.unref();
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const orphan of live) orphan.kill('SIGKILL');
      });
    }
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        this.#tail.push(line);
        if (this.#tail.length > TAIL_LINES) this.#tail.shift();
        this.#options.onOutput?.(this.name, line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let listening = false;
    child.on('message', (message: Partial<ListeningReport>) => {
      if (message?.stickless === 'listening' && message.port === this.port) listening = true;
    });
    const up = this.#options.ipc ? async () => listening : () => portAnswers(this.port);
    const deadline = Date.now() + timeoutMs;
    while (!(await up())) {
      if (!this.alive) throw new Error(`${this.name} exited during start:\n${this.tail}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not listen on port ${this.port} within ${timeoutMs} ms:\n${this.tail}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9: what a crash looks like to everyone else. */
  async kill(): Promise<void> {
    await this.#signal('SIGKILL');
  }

  /** Graceful stop (SIGTERM), then SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.#stopped = true;
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
    await this.#signal('SIGTERM');
    clearTimeout(timer);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || !this.alive) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
