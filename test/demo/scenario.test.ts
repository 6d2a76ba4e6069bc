// `npm run scenario -- --json` end to end (short): every configuration runs and prints one JSON
// object with every column; the central configurations, whose shoppers retry failed adds with the
// same Idempotency-Key, lose no acknowledged item, gain no extra one and show no read-your-writes or
// monotonic-read violation although a replica was killed mid-run, and every final cart is shown (a
// failure message carries the scenario's own per-shopper account); the HTML report explains the columns.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);

const CONFIGURATIONS = ['hard + local', 'soft + local', 'none + central', 'soft + central', 'soft + central + near cache', 'none + token'];
const NUMBER_FIELDS = [
  'shoppers', 'cartsIntact', 'cartsUnread', 'itemsAcknowledged', 'itemsLost', 'extraItems', 'concurrentTabLosses', 'requests', 'failedRequests', 'clientsMoved',
  'p50Ms', 'p99Ms', 'readYourWritesViolations', 'monotonicViolations', 'cookieBytesPerRequest',
];

test('the scenario runs six configurations with --json; central carts are exact with idempotent retries, with no guarantee violation', async (t) => {
  // A whole stack plus six runs: a bound for a hang, not a speed limit (the stack alone took minutes at load average 50 on 2 cores).
  t.timeout(420_000);
  const out = join(mkdtempSync(join(tmpdir(), 'scenario-')), 'report.html');
  // On the timeout the scenario gets SIGTERM and kills its stack itself (demo/scenario/main.ts).
  const { stdout, stderr } = await run(process.execPath, ['demo/scenario/main.ts', '--shoppers', '6', '--duration-ms', '3000', '--json', '--out', out], {
    cwd: new URL('../../', import.meta.url).pathname,
    timeout: 410_000,
  });
  const rows = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(rows.map((r) => r.configuration), CONFIGURATIONS);
  for (const row of rows) {
    for (const field of NUMBER_FIELDS) t.is(typeof row[field], 'number', `${String(row.configuration)}: ${field}`);
    t.true(typeof row.cpuUsPerRequest === 'number' && (row.cpuUsPerRequest as number) > 0, `${String(row.configuration)}: cpuUsPerRequest`);
    const sessiondPart = row.sessiondCpuUsPerRequest;
    if (String(row.configuration).includes('central')) {
      t.true(typeof sessiondPart === 'number' && sessiondPart > 0 && sessiondPart <= (row.cpuUsPerRequest as number), `${String(row.configuration)}: sessiond worked, and its CPU is part of cpuUsPerRequest`);
    } else {
      t.is(sessiondPart, null, `${String(row.configuration)}: a setup without sessiond is not charged its CPU`);
    }
    t.true(row.nearCacheHitRatio === null || typeof row.nearCacheHitRatio === 'number', `${String(row.configuration)}: nearCacheHitRatio`);
    t.is(row.shoppers, 6);
    t.true((row.requests as number) > (row.itemsAcknowledged as number), `${String(row.configuration)}: views outnumber adds`);
  }
  for (const row of rows.filter((r) => String(r.configuration).includes('central'))) {
    // The scenario logs, per shopper, why items were missing or a final cart was not shown.
    const why = `\n${stderr.split('\n').filter((line) => line.includes(`${String(row.configuration)}:`)).join('\n')}`;
    t.true((row.itemsAcknowledged as number) > 0, `${String(row.configuration)}: shoppers added items`);
    t.is(row.cartsUnread, 0, `${String(row.configuration)}: every final cart was shown${why}`);
    t.is(row.itemsLost, 0, `${String(row.configuration)}: no acknowledged item lost${why}`);
    t.is(row.extraItems, 0, `${String(row.configuration)}: no item beyond the acknowledged ones${why}`);
    t.is(row.concurrentTabLosses, 0, `${String(row.configuration)}: two tabs never lose an add`);
    t.is(row.readYourWritesViolations, 0, `${String(row.configuration)}: read-your-writes`);
    t.is(row.monotonicViolations, 0, `${String(row.configuration)}: monotonic reads`);
  }
  t.is(typeof rows.find((r) => r.configuration === 'soft + central + near cache')!.nearCacheHitRatio, 'number', 'the near cache reports hits and misses');
  for (const name of ['hard + local', 'none + central', 'soft + central']) {
    t.is(rows.find((r) => r.configuration === name)!.nearCacheHitRatio, null, `${name}: no near cache runs`);
  }
  const html = readFileSync(out, 'utf8');
  t.is(html.match(/<svg /g)?.length, 6, 'one chart per configuration');
  for (const word of ['carts intact', 'items lost', 'extra items', 'tab losses', 'moved', 'guarantee violations', 'cookie B/req']) t.true(html.includes(`<b>${word}</b>`), `the report explains ${word}`);
  t.regex(html, /npm run scenario -- --shoppers 6 --duration-ms 3000/);
});
