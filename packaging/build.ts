// `npm run build` (`node packaging/build.ts [--out-dir DIR]`): compiles the shipped folders to dist/
// and writes dist/package.json, the manifest of the installable package; `npm run pack:dist` packs it
// into stickless-<version>.tgz (docs/package.md has the design).
//
// Why a generated manifest: the repository's own package.json is the development manifest (every
// dependency installed, TypeScript run directly, the Docker image built from it). The published one
// lists only what the client needs as `dependencies`, so `npm install stickless` in an app that only
// talks to sessiond brings grpc-js, proto-loader, msgpackr and the OpenTelemetry API and nothing
// else. What sessiond and the proxy need is an optional peer dependency: npm does not install it
// unless the app does, and `stickless sessiond` / `stickless proxy` name what to install when missing.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Imported by the client (proto/ and client/): installed with the package. */
export const CLIENT_DEPENDENCIES = ['@grpc/grpc-js', '@grpc/proto-loader', 'msgpackr', '@opentelemetry/api'] as const;
/** Imported only by sessiond (server/) or the proxy (proxy/): optional peers. */
export const SERVER_PEER_DEPENDENCIES = ['@grpc/reflection', 'grpc-health-check', 'ioredis', 'pino', 'prom-client', 'yaml', 'zod'] as const;
export const PROXY_PEER_DEPENDENCIES = ['pino', 'prom-client', 'undici', 'yaml', 'zod'] as const;

function walk(dir: string, visit: (file: string) => void): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, visit);
    else visit(path);
  }
}

function compile(dist: string): void {
  rmSync(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  // tsc rewrites `.ts` specifiers in the JavaScript it emits, not in declarations: do it here, so a
  // consumer's type checker resolves `./session-client.js` to `./session-client.d.ts`.
  walk(dist, (file) => {
    if (!file.endsWith('.d.ts')) return;
    const text = readFileSync(file, 'utf8');
    const rewritten = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g, '$1$2.js$3');
    if (rewritten !== text) writeFileSync(file, rewritten);
  });
  // The .proto files are read at run time (proto/index.ts SESSION_PROTO_PATH).
  cpSync(join(root, 'proto', 'stickless'), join(dist, 'proto', 'stickless'), { recursive: true, filter: (src) => statSync(src).isDirectory() || src.endsWith('.proto') });
}

function entry(path: string): { types: string; default: string } {
  return { types: `./${path}.d.ts`, default: `./${path}.js` };
}

function writeManifest(dist: string): void {
  const source = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string; description: string; license: string; engines: Record<string, string>;
    dependencies: Record<string, string>;
  };
  const range = (name: string): string => {
    const value = source.dependencies[name];
    if (value === undefined) throw new Error(`packaging/build.ts: ${name} is not in package.json dependencies`);
    return value;
  };
  const peers = [...new Set([...SERVER_PEER_DEPENDENCIES, ...PROXY_PEER_DEPENDENCIES])].sort();
  const manifest = {
    name: 'stickless',
    version: source.version,
    description: source.description,
    license: source.license,
    type: 'module',
    engines: source.engines,
    exports: {
      '.': entry('client/index'),
      './client': entry('client/index'),
      './fastify': entry('client/fastify-plugin'),
      './middleware': entry('client/middleware'),
      './server': entry('server/index'),
      './proxy': entry('proxy/index'),
      './package.json': './package.json',
    },
    types: './client/index.d.ts',
    bin: { stickless: './cli/main.js' },
    dependencies: Object.fromEntries(CLIENT_DEPENDENCIES.map((name) => [name, range(name)])),
    peerDependencies: Object.fromEntries(peers.map((name) => [name, range(name)])),
    peerDependenciesMeta: Object.fromEntries(peers.map((name) => [name, { optional: true }])),
  };
  writeFileSync(join(dist, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const file of ['README.md', 'LICENSE']) {
    try { cpSync(join(root, file), join(dist, file)); } catch { /* LICENSE may not exist */ }
  }
}

/** Builds the package into `dist` (default: the repository's dist/). */
export function buildPackage(dist = join(root, 'dist')): string {
  mkdirSync(dist, { recursive: true });
  compile(dist);
  writeManifest(dist);
  return dist;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--out-dir');
  const dist = buildPackage(at > 0 ? process.argv[at + 1] : undefined);
  process.stdout.write(`built ${dist}\n`);
}
