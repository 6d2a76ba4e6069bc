// Turns raw configuration (parsed YAML) into a validated, secret-resolved, frozen ProxyConfig,
// reporting every problem at once by path. Nothing after startup checks configuration again.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { ProxyError } from './errors.ts';
import { proxyConfigSchema, type PoolConfig, type PoolTls, type ProxyConfig, type SecretRef } from './config-schema.ts';

export { DEFAULT_PROXY_OPTIONS } from './config-schema.ts';
export type * from './config-schema.ts';

export interface ParseProxyConfigOptions {
  /** Where `{ env: NAME }` secrets are read. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Directory `{ file: path }` secrets are relative to. Default: the working directory. */
  baseDir?: string;
}

/** Minimum pin-key length, characters. */
const MIN_KEY_LENGTH = 16;

/**
 * Validates `raw` against the schema, applies defaults, resolves secrets and checks cross
 * references (route → pool, unique names and backend ids). Throws PRX_ERR_CONFIG_INVALID whose
 * `issues` hold one `path: message` line per problem, e.g. `routes[2].affinity: expected none | soft | hard`.
 */
export function parseProxyConfig(raw: unknown, options: ParseProxyConfigOptions = {}): Readonly<ProxyConfig> {
  const result = proxyConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issues: string[] = [];
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) issues.push(`${formatPath([...issue.path, key])}: unknown option`);
      } else {
        issues.push(`${formatPath(issue.path)}: ${issue.message}`);
      }
    }
    throw invalid(issues);
  }
  const parsed = result.data;
  const issues: string[] = [];
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();

  const keys = parsed.keys.map((ref, i) => {
    const value = resolveSecret(ref, `keys[${i}]`, env, baseDir, issues);
    if (value !== undefined && value.length < MIN_KEY_LENGTH) issues.push(`keys[${i}]: expected at least ${MIN_KEY_LENGTH} characters`);
    return value ?? '';
  });
  let admin: ProxyConfig['admin'];
  if (parsed.admin) {
    const token = resolveSecret(parsed.admin.token, 'admin.token', env, baseDir, issues) ?? '';
    admin = { ...parsed.admin, token };
  }

  const pools: Record<string, PoolConfig> = {};
  for (const [name, pool] of Object.entries(parsed.pools)) {
    pools[name] = { ...pool, tls: pool.tls && readPoolTls(pool.tls, `pools.${name}.tls`, baseDir, issues) };
  }

  const backendOwners = new Map<string, string>();
  for (const [poolName, pool] of Object.entries(parsed.pools)) {
    pool.backends.forEach((backend, i) => {
      const owner = backendOwners.get(backend.id);
      if (owner !== undefined) issues.push(`pools.${poolName}.backends[${i}].id: duplicate backend id "${backend.id}" (also in ${owner})`);
      else backendOwners.set(backend.id, `pools.${poolName}`);
    });
  }
  const poolNames = Object.keys(parsed.pools);
  const routeNames = new Set<string>();
  const matches = new Map<string, number>();
  parsed.routes.forEach((route, i) => {
    if (routeNames.has(route.name)) issues.push(`routes[${i}].name: duplicate route name "${route.name}"`);
    routeNames.add(route.name);
    if (!Object.hasOwn(parsed.pools, route.pool)) {
      issues.push(`routes[${i}].pool: unknown pool "${route.pool}" (defined: ${poolNames.join(', ') || 'none'})`);
    }
    if (route.learn !== undefined && route.key.type !== 'cookie') issues.push(`routes[${i}].learn: a learned pin is the route's key; remove key (${route.key.type})`);
    if (route.learn !== undefined && route.pinWhen !== undefined) issues.push(`routes[${i}].pinWhen: not with learn (the learned value already starts the pin)`);
    if (route.pinWhen !== undefined && route.key.type !== 'cookie') issues.push(`routes[${i}].pinWhen: needs the stickless cookie key, not ${route.key.type}`);
    const matchKey = `${route.match.host ?? '*'} ${route.match.pathPrefix}`;
    const other = matches.get(matchKey);
    if (other !== undefined) issues.push(`routes[${i}].match: same host and pathPrefix as routes[${other}]`);
    else matches.set(matchKey, i);
  });
  if (issues.length > 0) throw invalid(issues);

  return deepFreeze({ ...parsed, keys, pools, ...(admin ? { admin } : {}) }) as Readonly<ProxyConfig>;
}

/** Reads a YAML file and parses it; `{ file }` secrets resolve relative to the file's directory. */
export function loadProxyConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Readonly<ProxyConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid([`${path}: cannot read file (${(error as Error).message})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw invalid([`${path}: invalid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  return parseProxyConfig(raw, { env, baseDir: dirname(resolve(path)) });
}

/** `['routes', 2, 'affinity']` → `routes[2].affinity`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

function resolveSecret(ref: SecretRef, path: string, env: NodeJS.ProcessEnv, baseDir: string, issues: string[]): string | undefined {
  if (typeof ref === 'string') return ref;
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') issues.push(`${path}.env: environment variable ${ref.env} is not set`);
    return value || undefined;
  }
  try {
    const value = readFileSync(resolve(baseDir, ref.file), 'utf8').trim();
    if (value === '') issues.push(`${path}.file: ${ref.file} is empty`);
    return value || undefined;
  } catch (error) {
    issues.push(`${path}.file: cannot read ${ref.file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    return undefined;
  }
}

/** A pool's `tls` files read (relative to the configuration's directory) and tried together; issues name the key. */
function readPoolTls(tls: PoolTls, path: string, baseDir: string, issues: string[]): PoolTls {
  const before = issues.length;
  const read = (file: string | undefined, key: string, marker: RegExp, what: string): string | undefined => {
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = readFileSync(resolve(baseDir, file), 'utf8');
    } catch (error) {
      issues.push(`${path}.${key}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      return undefined;
    }
    if (!marker.test(text)) issues.push(`${path}.${key}: ${file} holds no PEM ${what}`);
    return text;
  };
  const resolved: PoolTls = {
    ...tls,
    ca: read(tls.caFile, 'caFile', /-----BEGIN CERTIFICATE-----/, 'certificate (-----BEGIN CERTIFICATE-----)'),
    cert: read(tls.certFile, 'certFile', /-----BEGIN CERTIFICATE-----/, 'certificate (-----BEGIN CERTIFICATE-----)'),
    key: read(tls.keyFile, 'keyFile', /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key (-----BEGIN ... PRIVATE KEY-----)'),
  };
  // Tried together only when every file was read: a key that does not match its certificate, say.
  if (issues.length === before) {
    try {
      poolSecureContext(resolved);
    } catch (error) {
      issues.push(`${path}: ${(error as Error).message}`);
    }
  }
  return resolved;
}

/** The TLS context of a pool's https connections; undefined without `tls` (Node's defaults). */
export function poolSecureContext(tls: PoolTls | undefined): SecureContext | undefined {
  if (tls === undefined) return undefined;
  return createSecureContext({ ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }) });
}

function invalid(issues: string[]): ProxyError {
  const message = `invalid proxy configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  ${issues.join('\n  ')}`;
  return new ProxyError('PRX_ERR_CONFIG_INVALID', message, { issues });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
