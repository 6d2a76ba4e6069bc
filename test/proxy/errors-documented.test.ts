// docs/proxy.md must list every PRX_ERR_* code with its HTTP status, and nothing else; and every
// metric the proxy exports.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { METRIC_NAMES, PROXY_ERROR_STATUS } from '../../proxy/index.ts';

const doc = readFileSync(new URL('../../docs/proxy.md', import.meta.url), 'utf8');

test('every proxy error code is documented with its HTTP status, and no stale code is', (t) => {
  const rows = [...doc.matchAll(/^\| `(PRX_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  t.deepEqual(Object.fromEntries(rows), PROXY_ERROR_STATUS);
  t.is(rows.length, Object.keys(PROXY_ERROR_STATUS).length, 'no duplicate rows');
  t.true(doc.includes('| Code | HTTP status | Meaning | How to fix |'));
});

test('every metric is documented', (t) => {
  for (const name of METRIC_NAMES) t.true(doc.includes(`\`${name}\``), name);
});
