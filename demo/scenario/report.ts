// The scenario's outputs: a plain-text table for the terminal and README, and an HTML report with
// charts (requests per replica over time, failures around the kill), drawn as inline SVG.
import type { ConfigurationResult } from './run-scenario.ts';

const COLUMNS = ['configuration', 'carts intact', 'items lost', 'failed requests', 'clients moved', 'load max/mean', 'p50 ms', 'p99 ms'] as const;

function row(result: ConfigurationResult): string[] {
  return [
    result.configuration.name,
    `${result.cartsIntact}/${result.shoppers}`,
    `${result.itemsLost}/${result.itemsAcknowledged}`,
    `${result.failedRequests}/${result.requests}`,
    `${result.clientsMoved}/${result.shoppers}`,
    `${result.loadMax}/${result.loadMean.toFixed(0)} = ${(result.loadMax / Math.max(1, result.loadMean)).toFixed(2)}`,
    result.p50Ms.toFixed(1),
    result.p99Ms.toFixed(1),
  ];
}

/** A Markdown table (readable as plain text too). */
export function formatTable(results: ConfigurationResult[]): string {
  const rows = [Array.from(COLUMNS), ...results.map(row)];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n');
}

const BUCKET_MS = 500;
const COLORS = ['#4a7bd0', '#e07b39', '#3aa357', '#b84fb5', '#c9b72c', '#555'];

function chart(result: ConfigurationResult, durationMs: number): string {
  const width = 560;
  const height = 180;
  const buckets = Math.ceil(durationMs / BUCKET_MS) + 1;
  const replicas = Object.keys(result.perReplica);
  const series = new Map(replicas.map((id) => [id, new Array<number>(buckets).fill(0)]));
  const failures = new Array<number>(buckets).fill(0);
  for (const record of result.records) {
    const bucket = Math.min(buckets - 1, Math.floor(record.atMs / BUCKET_MS));
    if (record.status === 0 || record.status >= 500) failures[bucket]! += 1;
    else series.get(record.replica)?.[bucket] !== undefined && (series.get(record.replica)![bucket]! += 1);
  }
  const max = Math.max(1, ...[...series.values()].flat(), ...failures);
  const x = (i: number) => 40 + (i / buckets) * (width - 50);
  const y = (v: number) => height - 20 - (v / max) * (height - 30);
  // Each point sits at the middle of its bucket, so a change shows where it happened, not before.
  const path = (values: number[]) => values.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i + 0.5).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const marker = (atMs: number, label: string) => {
    const px = x(atMs / BUCKET_MS);
    return `<line x1="${px}" x2="${px}" y1="10" y2="${height - 20}" stroke="#999" stroke-dasharray="4 3"/><text x="${px + 3}" y="20" font-size="11" fill="#666">${label}</text>`;
  };
  const lines = replicas.map((id, i) => `<path d="${path(series.get(id)!)}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`);
  const legend = [...replicas.map((id, i) => `<span style="color:${COLORS[i % COLORS.length]}">■ ${id}</span>`), '<span style="color:#d00">■ failed</span>'].join(' ');
  return `<svg width="${width}" height="${height}" role="img" aria-label="requests per replica over time">
  <line x1="40" x2="${width - 10}" y1="${height - 20}" y2="${height - 20}" stroke="#ccc"/>
  <text x="2" y="${y(max) + 4}" font-size="11" fill="#666">${max}</text><text x="${width - 60}" y="${height - 4}" font-size="11" fill="#666">${(durationMs / 1000).toFixed(0)} s</text>
  ${lines.join('\n  ')}
  <path d="${path(failures)}" fill="none" stroke="#d00" stroke-width="2"/>
  ${marker(result.killAtMs, `kill ${result.killedReplica}`)}${marker(result.restartAtMs, 'restart')}
</svg><div class="legend">${legend} <span class="muted">(requests per ${BUCKET_MS} ms)</span></div>`;
}

export interface ReportMeta {
  command: string;
  startedAt: Date;
  store: string;
  durationMs: number;
  shoppers: number;
}

export function renderHtmlReport(results: ConfigurationResult[], meta: ReportMeta): string {
  const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const header = `<tr>${COLUMNS.map((c) => `<th>${c}</th>`).join('')}</tr>`;
  const rows = results.map((r) => `<tr>${row(r).map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`).join('\n');
  const charts = results.map((r) => `<section><h3>${escape(r.configuration.name)}</h3>${chart(r, meta.durationMs)}</section>`).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>stickless scenario report</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}
.muted{color:#777}.legend{font-size:12px;margin-bottom:1rem}section{display:inline-block;vertical-align:top;margin-right:1rem}</style></head>
<body><h1>Sticky vs. centralized sessions</h1>
<p class="muted">${escape(meta.startedAt.toISOString())} · ${meta.shoppers} shoppers per configuration · ${(meta.durationMs / 1000).toFixed(0)} s each · one replica killed (-9) at 1/3 and restarted at 2/3 · session store: ${escape(meta.store)}<br>
Reproduce: <code>${escape(meta.command)}</code></p>
<table>${header}\n${rows}</table>
<p class="muted">carts intact: final cart equals every acknowledged add · items lost: acknowledged adds missing from the final cart · failed: 5xx or no answer · moved: served by more than one replica · load: requests on the busiest replica / mean per replica.</p>
<h2>Requests per replica over time</h2>
${charts}
</body></html>`;
}
