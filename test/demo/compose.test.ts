// docker-compose.yml and the Dockerfile, checked without a Docker engine: the file parses, the
// compose CLI accepts it (when installed), every environment variable a service sets is read by the
// code it runs, and commands, healthchecks, ports and config files refer to things that exist.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { parse as parseYaml } from 'yaml';
import { parseProxyConfig } from '../../proxy/config.ts';
import { SERVER_ENV_VARS } from '../../server/config.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

interface Service {
  image?: string;
  volumes?: string[];
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  depends_on?: Record<string, unknown>;
  healthcheck?: { test: string[] };
}

const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const ours = Object.entries(services).filter(([, service]) => service.build !== undefined);

/** `${NAME:-default}` -> default, as compose substitutes it when NAME is unset. */
function substitute(value: string): string {
  return value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

/** The node command a service runs; a `sh -c` wrapper (the proxy's secrets warning) ends in `exec node …`. */
function commandOf(service: Service): string[] {
  const command = Array.isArray(service.command) ? service.command : [];
  if (command[0] !== 'sh' || command[1] !== '-c') return command;
  return /^\s*exec (node .*)$/m.exec(command[2] ?? '')?.[1]!.trim().split(/\s+/) ?? command;
}

/** Environment variable names the TypeScript sources of a folder read. */
function envReadIn(folder: string): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        for (const match of readFileSync(path, 'utf8').matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|process\.env\[['"]([A-Z][A-Z0-9_]*)['"]\]/g)) names.add((match[1] ?? match[2])!);
      }
    }
  };
  walk(join(ROOT, folder));
  return names;
}

test('docker-compose.yml parses and has the services of the stack', (t) => {
  for (const name of ['redis-primary', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3', 'sessiond', 'cart-app-local', 'cart-app-central', 'proxy']) {
    t.truthy(services[name], `service ${name}`);
  }
  for (const [name, service] of Object.entries(services)) t.truthy(service.healthcheck, `${name} has a healthcheck`);
});

test('the compose CLI accepts the file', (t) => {
  let cli: string[] | undefined;
  for (const candidate of [['docker-compose'], ['docker', 'compose']]) {
    try {
      execFileSync(candidate[0]!, [...candidate.slice(1), 'version'], { stdio: 'ignore' });
      cli = candidate;
      break;
    } catch {
      // not installed
    }
  }
  if (!cli) {
    t.log('no docker-compose CLI here (.ci/run installs Debian\'s docker-compose); the static checks below still run');
    t.pass();
    return;
  }
  const output = execFileSync(cli[0]!, [...cli.slice(1), '-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.is(output.trim(), '');
});

test('every environment variable a service sets is one its code reads', (t) => {
  const serverReads = new Set([...Object.values(SERVER_ENV_VARS), ...envReadIn('server')]);
  const cartReads = envReadIn('demo/cart-app');
  for (const [name, service] of ours) {
    const script = commandOf(service)[1] ?? '';
    let reads: Set<string>;
    if (script.startsWith('server/')) reads = serverReads;
    else if (script.startsWith('demo/cart-app/')) reads = cartReads;
    else if (script.startsWith('proxy/')) {
      const configPath = commandOf(service)[commandOf(service).indexOf('--config') + 1]!;
      const text = readFileSync(join(ROOT, configPath), 'utf8');
      reads = new Set([...text.matchAll(/\{ env: ([A-Z0-9_]+) \}/g)].map((m) => m[1]!));
    } else {
      t.fail(`${name}: unexpected command ${JSON.stringify(service.command)}`);
      continue;
    }
    for (const variable of Object.keys(service.environment ?? {})) t.true(reads.has(variable), `${name} sets ${variable}, which ${script} never reads`);
  }
});

test('commands, healthchecks and config files refer to files that exist', (t) => {
  for (const [name, service] of ours) {
    const command = commandOf(service);
    t.is(command[0], 'node', `${name} runs node`);
    t.true(existsSync(join(ROOT, command[1]!)), `${name}: ${command[1]} exists`);
    const health = service.healthcheck!.test;
    const script = health.find((part) => part.endsWith('.ts'));
    if (script) t.true(existsSync(join(ROOT, script)), `${name}: healthcheck script ${script} exists`);
  }
  for (const [name, service] of Object.entries(services)) {
    for (const dependency of Object.keys(service.depends_on ?? {})) t.truthy(services[dependency], `${name} depends on ${dependency}, which exists`);
  }
});

test('ports and healthchecks match what each service listens on', (t) => {
  const portOf = (address: string) => address.split(':').pop();
  const sessiond = services.sessiond!;
  const sessiondPort = portOf(sessiond.environment!.STICKLESS_LISTEN!);
  t.deepEqual(sessiond.expose, [sessiondPort, portOf(sessiond.environment!.STICKLESS_METRICS_LISTEN!)]);
  const metricsPort = portOf(sessiond.environment!.STICKLESS_METRICS_LISTEN!);
  t.true(sessiond.healthcheck!.test.some((part) => part.includes(`127.0.0.1:${metricsPort}/metrics`) && part.includes('stickless_sessiond_serving 1')), 'sessiond healthcheck reads the serving gauge on its metrics port');
  for (const name of ['cart-app-local', 'cart-app-central']) {
    const service = services[name]!;
    t.deepEqual(service.expose, [service.environment!.PORT]);
    t.true(service.healthcheck!.test.some((part) => part.includes(`127.0.0.1:${service.environment!.PORT}/healthz`)), `${name} healthcheck dials its port`);
  }
  t.regex(services['cart-app-central']!.environment!.SESSIOND_ADDRESS!, new RegExp(`sessiond:${sessiondPort}$`));

  const proxy = services.proxy!;
  const configPath = commandOf(proxy)[commandOf(proxy).indexOf('--config') + 1]!;
  const env = Object.fromEntries(Object.entries(proxy.environment ?? {}).map(([k, v]) => [k, substitute(v)]));
  const config = parseProxyConfig(parseYaml(readFileSync(join(ROOT, configPath), 'utf8')), { env, baseDir: ROOT });
  const published = (proxy.ports ?? []).map((mapping) => mapping.split(':').pop());
  for (const mapping of proxy.ports ?? []) t.regex(substitute(mapping), /^127\.0\.0\.1:/, `${mapping} is published on the host's loopback unless .env says otherwise`);
  t.deepEqual(published, [String(config.listen.port)], 'only the data port is published');
  t.is(config.admin!.host, '127.0.0.1', 'the admin API listens on the proxy container\'s loopback only (operators use docker compose exec proxy stickless proxy …)');
  t.true(proxy.healthcheck!.test.some((part) => part.includes(`127.0.0.1:${config.admin!.port}/healthz`)), 'proxy healthcheck dials its admin port');
  for (const pool of Object.values(config.pools)) {
    const target = services[pool.dns!.name];
    t.truthy(target, `pool dns name ${pool.dns!.name} is a service`);
    t.is(String(pool.dns!.port), target?.environment?.PORT ?? "(no PORT)", `pool ${pool.dns!.name} dials the port the app listens on`);
  }
  t.deepEqual(config.routes.map((r) => [r.match.pathPrefix, r.affinity]), [['/sticky', 'hard'], ['/shop', 'soft'], ['/token', 'none']], 'the same routes as npm start');
});

test('the Dockerfile builds on node:24-slim, installs production dependencies only and runs as non-root', (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t.regex(dockerfile, /^FROM node:24-slim$/m);
  t.regex(dockerfile, /npm ci --omit=dev/);
  t.regex(dockerfile, /^USER node$/m);
  for (const match of dockerfile.matchAll(/^COPY (\S+)/gm)) {
    for (const source of match[1]!.split(' ')) t.true(existsSync(join(ROOT, source)), `COPY source ${source} exists`);
  }
});

test('the Dockerfile copies what npm ci runs (the Node version guard of preinstall) before npm ci', (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const beforeInstall = dockerfile.slice(0, dockerfile.search(/^RUN npm ci/m));
  const copied = [...beforeInstall.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).slice(0, -1));
  for (const hook of ['preinstall', 'install', 'postinstall']) {
    for (const file of scripts[hook]?.match(/[\w./-]+\.c?js\b/g) ?? []) {
      t.true(copied.some((source) => file === source || file.startsWith(`${source.replace(/\/?$/, '/')}`)), `scripts.${hook} runs ${file}: COPY it before RUN npm ci`);
    }
  }
});

test('Redis and Sentinel keep their state on named volumes and start from the scripts in deploy/', (t) => {
  for (const name of ['redis-primary', 'redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3']) {
    const service = services[name]!;
    const named = (service.volumes ?? []).map((volume) => volume.split(':')).filter(([source]) => !source!.startsWith('.'));
    t.deepEqual(named.map(([, target]) => target), ['/data'], `${name} keeps /data on a named volume`);
    for (const [source] of named) t.true(source! in (compose.volumes ?? {}), `volume ${source} is declared`);
    t.true((service.volumes ?? []).includes('./deploy:/deploy:ro'), `${name} mounts deploy/`);
    for (const part of [...commandOf(service), ...(service.healthcheck?.test ?? [])]) {
      if (part.startsWith('/deploy/')) t.true(existsSync(join(ROOT, 'deploy', part.slice('/deploy/'.length))), `${name}: ${part} exists`);
    }
    t.false(commandOf(service).includes('--replicaof'), `${name} does not assert a role in its command`);
  }
  t.regex(String(services['sentinel-1']!.healthcheck!.test), /sentinel\.sh,check/, 'sentinel health means a reachable master with quorum');
});
