// What the scenario reads from the processes of a run, beside the shoppers' own records: CPU time
// (from /proc, Linux) of the pool's replicas and sessiond, and the near-cache counters the central
// replicas report in GET /api/stats. A killed replica loses its counters, so the run samples it
// just before the kill and adds what its restarted process counted after.
import { processCpuMs } from '../../bench/process-cpu.ts';
import type { ReplicaInfo } from '../stack.ts';

export interface Sample {
  /** CPU ms per process key (replica id, 'sessiond': every instance). */
  cpuMs: Record<string, number>;
  /** Near-cache hits and misses per replica (central replicas; 0 elsewhere). */
  hits: Record<string, number>;
  misses: Record<string, number>;
}

export async function sample(replicas: ReplicaInfo[], sessiondPids: readonly number[]): Promise<Sample> {
  const sessiond = sessiondPids.length === 0 ? Number.NaN : sessiondPids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const result: Sample = { cpuMs: { sessiond }, hits: {}, misses: {} };
  await Promise.all(replicas.map(async (replica) => {
    result.cpuMs[replica.id] = processCpuMs(replica.process.pid);
    result.hits[replica.id] = 0;
    result.misses[replica.id] = 0;
    if (replica.process.pid === undefined) return;
    try {
      const response = await fetch(`http://127.0.0.1:${replica.process.port}/api/stats`, { signal: AbortSignal.timeout(5000) });
      const stats = (await response.json()) as { nearCache?: { hits?: number; misses?: number } };
      result.hits[replica.id] = stats.nearCache?.hits ?? 0;
      result.misses[replica.id] = stats.nearCache?.misses ?? 0;
    } catch {
      // a replica that does not answer counts nothing
    }
  }));
  return result;
}

/**
 * Totals over a run: end − start for every process, plus, for the killed one, what it counted
 * before the kill (its restarted process starts from zero).
 */
export function totals(start: Sample, atKill: Sample, end: Sample, victim: string): { cpuMs: number; sessiondCpuMs: number; hits: number; misses: number } {
  const sum = (field: keyof Sample, only?: string): number => {
    let total = 0;
    for (const key of Object.keys(end[field])) {
      if (only !== undefined && key !== only) continue;
      // A process whose CPU could not be read (no /proc, not running) counts nothing rather than NaN.
      if (!Number.isFinite(end[field][key]) || !Number.isFinite(start[field][key] ?? 0)) continue;
      const from = start[field][key] ?? 0;
      total += key === victim ? (atKill[field][key] ?? from) - from + (end[field][key] ?? 0) : (end[field][key] ?? 0) - from;
    }
    return total;
  };
  return { cpuMs: sum('cpuMs'), sessiondCpuMs: sum('cpuMs', 'sessiond'), hits: sum('hits'), misses: sum('misses') };
}
