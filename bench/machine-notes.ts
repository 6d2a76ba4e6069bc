// What the numbers were measured on: cores, CPU, memory, kernel, tool versions, commit. Tools that
// are missing are reported as such, with the package that provides them.
import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

export interface Tool {
  /** The version line, or undefined when the tool is not installed. */
  version: string | undefined;
  /** What to run to get it. */
  install: string;
}

export interface MachineNotes {
  date: string;
  cores: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  /** 1, 5 and 15 minute load averages when the run started: other work on the machine shows here. */
  loadAverage: number[];
  node: string;
  commit: string;
  tools: { redis: Tool; wrk: Tool; haproxy: Tool };
}

function firstLine(command: string, args: string[], pattern?: RegExp): string | undefined {
  try {
    // wrk -v exits 1 and prints to stdout; haproxy -v prints to stdout. Read both streams.
    const out = execFileSync(command, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    return pick(out, pattern);
  } catch (error) {
    const out = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    return pick(out, pattern);
  }
}

function pick(out: string, pattern?: RegExp): string | undefined {
  const line = out.split('\n').find((l) => (pattern ? pattern.test(l) : l.trim() !== ''));
  return line?.trim() || undefined;
}

function shorten(line: string | undefined, pattern: RegExp): string | undefined {
  return line === undefined ? undefined : (pattern.exec(line)?.[1] ?? line);
}

export function collectMachineNotes(): MachineNotes {
  const commit = firstLine('git', ['rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const dirty = (() => {
    try {
      return execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', timeout: 5000 }).trim() !== '';
    } catch {
      return false;
    }
  })();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    loadAverage: loadavg(),
    node: process.version,
    commit: dirty ? `${commit} (with uncommitted changes)` : commit,
    tools: {
      redis: { version: shorten(firstLine('redis-server', ['--version']), /v=(\S+)/), install: 'apt-get install -y redis-server' },
      wrk: { version: shorten(firstLine('wrk', ['-v'], /wrk/), /^wrk (\S+)/), install: 'apt-get install -y wrk' },
      haproxy: { version: shorten(firstLine('haproxy', ['-v'], /HA-?Proxy version/i), /version (\S+)/i), install: 'apt-get install -y haproxy' },
    },
  };
}

export function describeMachine(notes: MachineNotes): string[] {
  const tool = (name: string, t: Tool): string => `${name}: ${t.version ?? `not installed (\`${t.install}\`)`}`;
  return [
    `- Date: ${notes.date}; commit ${notes.commit}`,
    `- Machine: ${notes.cores} cores (${notes.cpu}), ${notes.memoryGiB} GiB, Linux ${notes.kernel}; ` +
      `load average at start ${notes.loadAverage.map((n) => n.toFixed(2)).join(' / ')} (1 / 5 / 15 min)`,
    `- Node ${notes.node}`,
    `- ${tool('redis-server', notes.tools.redis)}`,
    `- ${tool('wrk', notes.tools.wrk)}`,
    `- ${tool('haproxy', notes.tools.haproxy)}`,
  ];
}
