// Module boundaries (STYLE.md §2): the contract in proto/ is the only code client and server share;
// client/ never imports server/, neither imports proxy/, and the proxy stands alone. Also: the
// generated types in proto/generated are exactly what `npm run proto:gen` produces.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import test from 'ava';

const ROOT = new URL('../', import.meta.url).pathname;

function sources(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) out.push(path);
    }
  };
  walk(join(ROOT, folder));
  return out;
}

/** Top-level project folders that the files of `folder` import from (relative imports only). */
function importedFolders(folder: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  for (const file of sources(folder)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(ROOT, resolve(file, '..', match[1]!)).split('/')[0]!;
      if (target !== folder) seen.set(target, [...(seen.get(target) ?? []), relative(ROOT, file)]);
    }
  }
  return seen;
}

const ALLOWED: Record<string, string[]> = {
  proto: [],
  server: ['proto'],
  client: ['proto'],
  proxy: [],
};

for (const [folder, allowed] of Object.entries(ALLOWED)) {
  test(`${folder}/ imports only from ${allowed.length ? allowed.join(', ') : 'itself'}`, (t) => {
    const imported = importedFolders(folder);
    t.true(sources(folder).length > 0);
    for (const [target, files] of imported) t.true(allowed.includes(target), `${folder}/ imports ${target}/ in ${files.join(', ')}`);
  });
}

test('proto/generated is what `npm run proto:gen` produces', (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'proto-gen-'));
  cpSync(join(ROOT, 'proto'), join(scratch, 'proto'), { recursive: true, filter: (src) => !src.includes('/generated') });
  execFileSync(process.execPath, [
    join(ROOT, 'node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js'),
    '--grpcLib=@grpc/grpc-js', '--longs=Number', '--enums=String', '--defaults', '--oneofs', '--outDir=proto/generated', 'proto/stickless/session/v1/session.proto',
  ], { cwd: scratch, stdio: 'ignore' });
  execFileSync(process.execPath, [join(scratch, 'proto/fix-generated.ts')], { cwd: scratch });
  const expected = sources('proto/generated').map((file) => relative(join(ROOT, 'proto/generated'), file)).sort();
  const fresh: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else fresh.push(relative(join(scratch, 'proto/generated'), path));
    }
  };
  walk(join(scratch, 'proto/generated'));
  t.deepEqual(fresh.sort(), expected);
  for (const file of expected) {
    t.is(readFileSync(join(scratch, 'proto/generated', file), 'utf8'), readFileSync(join(ROOT, 'proto/generated', file), 'utf8'), `${file} is up to date`);
  }
});
