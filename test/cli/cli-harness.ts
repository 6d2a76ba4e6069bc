// Runs `node cli/main.ts ...` as a child process: exit code, stdout, stderr; or a long-running one
// with its output collected and a kill in teardown.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { spawnNode, type NodeProcess } from '../helpers/servers.ts';

export const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string }

/** One run to completion, bounded at 170 s (a hang is a failure; a loaded 2-core machine can take a minute to start node). */
export function stickless(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 170_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export type RunningCli = NodeProcess;

/** A run that keeps going (watch, sessiond, up); SIGKILLed in teardown if still alive. */
export function startStickless(t: ExecutionContext, args: string[], env: Record<string, string> = {}): RunningCli {
  return spawnNode(t, CLI, args, env);
}
