// CPU time a process has used, read from /proc (Linux). Dividing the CPU a server spent during a run
// by the operations it served gives a cost per operation that does not depend on how the 2 cores
// were shared with the load generator, which throughput on one machine does.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU of `pid` so far, in ms; NaN where /proc is not available. */
export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / clockTicks()) * 1000;
  } catch {
    return Number.NaN;
  }
}

/** This process's own user + system CPU so far, in ms. */
export function ownCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Busy CPU time of the whole machine so far (every core, every process), in ms. */
function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) / clockTicks()) * 1000;
  } catch {
    return Number.NaN;
  }
}

/** CPU of this process plus its reaped children (exited benchmark processes such as wrk), in ms. */
function ownAndReapedCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return ((fields[11]! + fields[12]! + fields[13]! + fields[14]!) / clockTicks()) * 1000;
  } catch {
    return Number.NaN;
  }
}

/**
 * Measures how much of the machine was busy with work that is not the benchmark's (other users'
 * processes) over a window: machine busy time minus the CPU of this process and every child it
 * started, as a share of all cores. Rows measured while this is high are not comparable.
 */
export class ForeignLoadMeter {
  #pids: () => number[];
  #start: { at: number; busy: number; own: number; live: Map<number, number> } | undefined;

  /** `pids`: the benchmark's live child processes at the time of the call. */
  constructor(pids: () => number[]) {
    this.#pids = pids;
  }

  start(): void {
    this.#start = { at: performance.now(), busy: machineBusyMs(), own: ownAndReapedCpuMs(), live: new Map(this.#pids().map((pid) => [pid, processCpuMs(pid)])) };
  }

  /** Share (0..1) of all cores busy with other work since start(); NaN without /proc. */
  stop(cores: number): number {
    const start = this.#start;
    if (!start) return Number.NaN;
    let ours = ownAndReapedCpuMs() - start.own;
    for (const pid of this.#pids()) ours += processCpuMs(pid) - (start.live.get(pid) ?? 0);
    for (const [pid, cpuMs] of start.live) if (!this.#pids().includes(pid)) ours -= cpuMs;
    const foreign = machineBusyMs() - start.busy - ours;
    return Math.max(0, foreign / ((performance.now() - start.at) * cores));
  }
}

/** `pid` and its child processes (one level: the workers of a primary), from /proc. */
export function processTree(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children === '' ? [] : children.split(/\s+/).map(Number))];
  } catch {
    return [pid];
  }
}

/** CPU of reaped children of this process (load generators that exited), in ms. */
export function reapedChildrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return ((fields[13]! + fields[14]!) / clockTicks()) * 1000;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size now and at its peak (VmRSS, VmHWM) of `pid`, in bytes; NaN without /proc. */
export function processRssBytes(pid: number): { rss: number; peak: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}
