// Markdown tables with aligned columns, and the number formats every report uses.

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Throughput: whole numbers with thousands separators. */
export function formatRate(perSecond: number): string {
  return Number.isFinite(perSecond) ? Math.round(perSecond).toLocaleString('en-US') : '—';
}

/** Milliseconds with 2 decimals below 10 ms, 1 above. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

/** A ratio as `0.42×`; `—` when either side is missing. */
export function formatRatio(numerator: number, denominator: number): string {
  const ratio = numerator / denominator;
  return Number.isFinite(ratio) && denominator > 0 ? `${ratio.toFixed(2)}×` : '—';
}

/** CPU microseconds per operation. */
export function formatCpuUs(cpuMs: number, operations: number): string {
  const us = (cpuMs * 1000) / operations;
  return Number.isFinite(us) && operations > 0 ? us.toFixed(0) : '—';
}

/** A share (0..1) as a whole percentage. */
export function formatShare(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : '—';
}
