// Runs a command of the compose test and collects its output; every call has a deadline.
import { spawn } from 'node:child_process';

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the command after this many ms (default 120 s). */
  timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting when it is not 0. */
  allowFailure?: boolean;
  /** Print the command's output as it runs (long steps: builds, `up`). */
  echo?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (options.echo) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      if (options.echo) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (result.code === 0 || options.allowFailure) return resolve(result);
      const why = signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exit ${result.code}`;
      reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderr.slice(-2000)}${stdout.slice(-1000)}`));
    });
  });
}
