// `npm run scenario` end to end (short): it prints the four-way table and writes the HTML report,
// and the central-session rows lose no acknowledged item although a replica was killed mid-run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);

test('the scenario prints four configurations and central sessions lose no acknowledged item', async (t) => {
  // A whole stack plus four runs: a bound for a hang, not a speed limit (116 s at load average 35 on 2 cores).
  t.timeout(240_000);
  const out = join(mkdtempSync(join(tmpdir(), 'scenario-')), 'report.html');
  // On the timeout the scenario gets SIGTERM and kills its stack itself (demo/scenario/main.ts).
  const { stdout } = await run(process.execPath, ['demo/scenario/main.ts', '--shoppers', '6', '--duration-ms', '3000', '--out', out], {
    cwd: new URL('../../', import.meta.url).pathname,
    timeout: 230_000,
  });
  const rows = stdout.trim().split('\n').slice(2).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  t.deepEqual(rows.map((r) => r[0]), ['hard + local', 'soft + local', 'none + central', 'soft + central']);
  for (const row of rows) {
    t.regex(row[1]!, /^\d+\/6$/, 'carts intact out of 6 shoppers');
    t.regex(row[5]!, /^\d+\/\d+ = \d+\.\d\d$/, 'load max/mean');
  }
  for (const row of rows.slice(2)) {
    const [lost, acknowledged] = row[2]!.split('/').map(Number);
    t.is(lost, 0, `${row[0]}: no acknowledged item lost`);
    t.true(acknowledged! > 0, `${row[0]}: shoppers added items`);
  }
  const html = readFileSync(out, 'utf8');
  t.is(html.match(/<svg /g)?.length, 4, 'one chart per configuration');
  t.regex(html, /npm run scenario -- --shoppers 6 --duration-ms 3000/);
});
