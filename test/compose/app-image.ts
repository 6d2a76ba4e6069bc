// Builds stickless:local (the image docker-compose.yml runs) without network access: from a
// temporary context holding the files the Dockerfile copies plus the installed node_modules, with the
// Dockerfile's `RUN npm ci …` line replaced by a COPY of that node_modules. Every other line of the
// Dockerfile is used as it is.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { run } from './exec.ts';

export async function buildAppImage(root: string, tag: string, dockerHost: string): Promise<void> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const npmCi = /^RUN npm ci .*$/m;
  if (!npmCi.test(dockerfile)) throw new Error('Dockerfile: no `RUN npm ci` line to replace; update test/compose/app-image.ts');
  const context = mkdtempSync(join(tmpdir(), 'stickless-app-context-'));
  try {
    // The build has no network: the dependencies come from this checkout's node_modules, only the
    // packages `npm ci --omit=dev` would install.
    writeFileSync(join(context, 'Dockerfile'), dockerfile.replace(npmCi, 'COPY node_modules ./node_modules'));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((match) => match[1]!.trim().split(/\s+/).slice(0, -1));
    for (const source of new Set([...sources, ...(await productionPackages(root))])) {
      mkdirSync(dirname(join(context, source)), { recursive: true });
      cpSync(join(root, source), join(context, source), { recursive: true, verbatimSymlinks: true });
    }
    await run('docker', ['build', '-q', '-t', tag, context], { env: { DOCKER_HOST: dockerHost }, timeoutMs: 600_000 });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** node_modules/<name> (or node_modules/@scope/<name>) of every production dependency, from `npm ls`. */
async function productionPackages(root: string): Promise<string[]> {
  const listed = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, allowFailure: true });
  const top = new Set<string>();
  for (const line of listed.stdout.split('\n')) {
    const parts = relative(root, line.trim()).split(sep);
    if (parts[0] !== 'node_modules' || parts.length < 2) continue;
    top.add(join(...parts.slice(0, parts[1]!.startsWith('@') ? 3 : 2)));
  }
  if (top.size === 0) throw new Error(`npm ls --omit=dev listed no installed package in ${root}/node_modules: run npm ci first`);
  return [...top];
}
