// proto-loader-gen-types writes extensionless relative imports; under `module: nodenext` TypeScript
// wants the `.ts` extension that Node's type stripping also needs. Rewrite them in place.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('./generated/', import.meta.url).pathname;

function fixDir(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      fixDir(path);
    } else if (entry.name.endsWith('.ts')) {
      const text = readFileSync(path, 'utf8');
      const fixed = text.replace(/from '(\.{1,2}\/[^']+?)(?<!\.ts)'/g, "from '$1.ts'");
      if (fixed !== text) writeFileSync(path, fixed);
    }
  }
}

fixDir(root);
