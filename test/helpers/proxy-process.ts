// The proxy as a real process (`node proxy/main.ts --config file`), for signal tests: SIGHUP
// reload and SIGTERM shutdown. Ports come from the "listening" log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { stringify } from 'yaml';

const MAIN = fileURLToPath(new URL('../../proxy/main.ts', import.meta.url));

export interface ProxyProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Rewrites the config file (the process reads it on SIGHUP). */
  writeConfig(config: unknown): void;
  signal(signal: NodeJS.Signals): void;
  exited(): Promise<number | null>;
}

export async function startProxyProcess(t: ExecutionContext, config: unknown): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'stickless-proxy-'));
  const file = join(dir, 'proxy.yaml');
  const writeConfig = (value: unknown) => writeFileSync(file, stringify(value));
  writeConfig(config);
  const child = spawn(process.execPath, [MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  const listening = new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('proxy process did not log "listening" within 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline;
      while ((newline = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line);
          logs.push(entry);
          if (entry.msg === 'listening') {
            clearTimeout(timer);
            resolve(entry);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exit.then((code) => reject(new Error(`proxy process exited with ${code} before listening`)));
  });
  const entry = await listening;
  return {
    child,
    url: `http://127.0.0.1:${entry['http'].port}`,
    adminUrl: `http://127.0.0.1:${entry['admin']?.port ?? 0}`,
    logs,
    writeConfig,
    signal: (signal) => child.kill(signal),
    exited: () => exit,
  };
}
