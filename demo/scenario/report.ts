// The scenario's outputs: a plain-text table for the terminal and README, and an HTML report with
// charts (requests per replica over time, failures around the kill), drawn as inline SVG.
import type { ConfigurationResult } from './run-scenario.ts';

/** Every column, with what it means in words a student follows (the README and the report show them). */
export const COLUMN_NOTES: ReadonlyArray<readonly [string, string]> = [
  ['configuration', 'affinity (how the proxy picks a replica: hard = always the same one, soft = the same one while it is up, none = any) + where the cart lives (local = the replica\'s memory, central = sessiond, token = an encrypted cookie)'],
  ['carts intact', 'shoppers whose final cart plus everything they ordered is exactly what the shop told them it added: nothing missing, nothing extra ("n unread": shoppers the shop showed no final cart in 5 tries, whose items count neither as lost nor as kept)'],
  ['items lost', 'items the shop acknowledged (answered 200 to the add) that are in neither the final cart nor an order, out of all acknowledged items'],
  ['extra items', 'items in the final cart or an order that the shopper was never told were added (an add the store applied while its answer was lost; an Idempotency-Key retry prevents them)'],
  ['tab losses', 'two adds sent at once from two tabs, both acknowledged, but the next cart view holds only one of them (the last cookie written wins)'],
  ['failed requests', 'answers with a 5xx status or no answer within 5 s, out of all requests (retries included)'],
  ['moved', 'shoppers served by more than one replica during the run (a dead replica, or no affinity)'],
  ['p50 / p99 ms', 'request latency through the proxy: half of the requests took at most p50, 99 in 100 at most p99'],
  ['near-cache hits', 'reads the replicas answered from their near cache, without asking sessiond, out of all session reads (– where no near cache runs)'],
  ['guarantee violations', 'responses that showed an older cart version than the shopper\'s own last change (read-your-writes) / than one it had already seen (monotonic reads), from the version the app returns (– where the app returns none)'],
  ['cookie B/req', 'bytes of the Cookie header the browser sends with every request (a token cart grows with the cart)'],
  ['CPU µs/req', 'CPU time of the pool\'s replicas (app and stickless client) and, in the central configurations, sessiond, divided by the requests answered'],
];
const COLUMNS = COLUMN_NOTES.map(([name]) => name);

function row(result: ConfigurationResult): string[] {
  const versioned = result.configuration.route !== 'sticky';
  return [
    result.configuration.name,
    `${result.cartsIntact}/${result.shoppers}${result.cartsUnread > 0 ? ` (${result.cartsUnread} unread)` : ''}`,
    `${result.itemsLost}/${result.itemsAcknowledged}`,
    String(result.extraItems),
    String(result.concurrentTabLosses),
    `${result.failedRequests}/${result.requests}`,
    `${result.clientsMoved}/${result.shoppers}`,
    `${result.p50Ms.toFixed(1)} / ${result.p99Ms.toFixed(1)}`,
    result.nearCacheHitRatio === null ? '–' : `${(result.nearCacheHitRatio * 100).toFixed(1)}%`,
    versioned ? `${result.readYourWritesViolations} / ${result.monotonicViolations}` : '–',
    result.cookieBytesPerRequest.toFixed(0),
    Number.isFinite(result.cpuUsPerRequest) ? result.cpuUsPerRequest.toFixed(0) : '–',
  ];
}

/** One configuration as a JSON object (`npm run scenario -- --json`): every column, as numbers. */
export function toJson(result: ConfigurationResult): Record<string, unknown> {
  const { records: _records, configuration, ...figures } = result;
  return { configuration: configuration.name, route: configuration.route, affinity: configuration.affinity, ...figures };
}

/** The column notes as a Markdown list. */
export function formatNotes(): string {
  return COLUMN_NOTES.map(([name, note]) => `- **${name}**: ${note}`).join('\n');
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
<body><h1>Sticky, central and token sessions</h1>
<p class="muted">${escape(meta.startedAt.toISOString())} · ${meta.shoppers} shoppers per configuration · ${(meta.durationMs / 1000).toFixed(0)} s each · each shopper views pages and the cart 2-5 times per add, a third use two tabs, a third check out; every add and checkout carries an Idempotency-Key and is retried with it · one replica killed (-9) at 1/3 and restarted at 2/3 · session store: ${escape(meta.store)}<br>
Reproduce: <code>${escape(meta.command)}</code></p>
<table>${header}\n${rows}</table>
<h2>What the columns mean</h2>
<dl>${COLUMN_NOTES.map(([name, note]) => `<dt><b>${escape(name)}</b></dt><dd>${escape(note)}</dd>`).join('')}</dl>
<h2>Requests per replica over time</h2>
${charts}
</body></html>`;
}
