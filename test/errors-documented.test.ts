// Every stable error code is documented, and every documented code exists (the fastify pattern).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { SESSION_ERROR_CODES } from '../proto/errors.ts';

function documentedCodes(file: string, prefix: string): string[] {
  const text = readFileSync(new URL(`../docs/${file}`, import.meta.url), 'utf8');
  const codes = [...text.matchAll(new RegExp(`^\\| \`(${prefix}[A-Z_]+)\` \\|`, 'gm'))].map((m) => m[1]!);
  return codes.sort();
}

test('docs/errors.md lists exactly the SESS_ERR_* codes of proto/errors.ts', (t) => {
  t.deepEqual(documentedCodes('errors.md', 'SESS_ERR_'), [...SESSION_ERROR_CODES].sort());
});
