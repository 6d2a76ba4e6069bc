// Issue 10's throughput targets judged on alternating runs: a stickless row and its HAProxy peer
// measured in turn for a few rounds (A B, B A, A B, ...) and summed. This VM's speed moves within a
// run (the first and last `direct` rows of one run differed up to 1.6×), so a ratio of two rows
// measured a minute apart carries that drift; alternating short runs spreads it over both sides.

/** One measured run: requests answered or failed, its length and the proxy's CPU over it. */
export interface PairedSample {
  requests: number;
  durationMs: number;
  cpuMs: number;
}

export interface PairedSide {
  reqPerSecond: number;
  cpuUsPerReq: number;
}

export interface PairedResult {
  name: string;
  peer: string;
  rounds: number;
  stickless: PairedSide;
  haproxy: PairedSide;
  /** stickless / HAProxy. */
  reqPerSecondRatio: number;
  cpuRatio: number;
}

export const PAIRED_ROUNDS = 3;

export async function measurePaired(name: string, peer: string, stickless: () => Promise<PairedSample>, haproxy: () => Promise<PairedSample>, log: (line: string) => void): Promise<PairedResult> {
  const sums = { stickless: { requests: 0, durationMs: 0, cpuMs: 0 }, haproxy: { requests: 0, durationMs: 0, cpuMs: 0 } };
  const add = (side: keyof typeof sums, sample: PairedSample): void => {
    sums[side].requests += sample.requests;
    sums[side].durationMs += sample.durationMs;
    sums[side].cpuMs += sample.cpuMs;
  };
  for (let round = 0; round < PAIRED_ROUNDS; round++) {
    // Order alternates, so neither side always runs on a proxy the other has just warmed the cores for.
    if (round % 2 === 0) {
      add('stickless', await stickless());
      add('haproxy', await haproxy());
    } else {
      add('haproxy', await haproxy());
      add('stickless', await stickless());
    }
  }
  const side = (s: PairedSample): PairedSide => ({ reqPerSecond: s.requests / (s.durationMs / 1000), cpuUsPerReq: (s.cpuMs * 1000) / s.requests });
  const sticklessSide = side(sums.stickless);
  const haproxySide = side(sums.haproxy);
  const result: PairedResult = {
    name,
    peer,
    rounds: PAIRED_ROUNDS,
    stickless: sticklessSide,
    haproxy: haproxySide,
    reqPerSecondRatio: sticklessSide.reqPerSecond / haproxySide.reqPerSecond,
    cpuRatio: sticklessSide.cpuUsPerReq / haproxySide.cpuUsPerReq,
  };
  log(`  ${name} vs ${peer}, ${PAIRED_ROUNDS} alternating rounds: ${result.reqPerSecondRatio.toFixed(2)}× the req/s, ${result.cpuRatio.toFixed(2)}× the CPU per request`);
  return result;
}
