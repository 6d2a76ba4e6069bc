// A real proxy on 127.0.0.1 port 0 for a test, closed in teardown, plus small HTTP helpers with
// timeouts on every call and a bounded poller (no fixed sleeps).
import type { ExecutionContext } from 'ava';
import { Agent, request } from 'undici';
import { createProxy, parseProxyConfig, type ProxyServer, type Resolver } from '../../proxy/index.ts';
import { createLogger } from '../../proxy/logger.ts';
import type { Backend } from './upstream.ts';

export const TEST_KEY = 'test-key-0123456789-abcdefghij';
export const ADMIN_TOKEN = 'admin-token-for-tests';
const CALL_TIMEOUT_MS = 10_000;

/** One keep-alive agent for all test requests; short idle time so proxies close quickly. */
export const agent = new Agent({ keepAliveTimeout: 1_000, connections: 64 });

export interface RunningProxy {
  proxy: ProxyServer;
  /** `http://127.0.0.1:<port>` */
  url: string;
  adminUrl: string;
}

/** A raw config with one pool `app` of `backends` and the given routes (default: one soft route on /). */
export function testConfig(backends: readonly Pick<Backend, 'id' | 'url'>[], extra: Record<string, unknown> = {}, pool: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, token: ADMIN_TOKEN },
    keys: [TEST_KEY],
    log: { level: 'silent' },
    shutdownTimeoutMs: 2_000,
    pools: { app: { backends: backends.map((b) => ({ id: b.id, url: b.url })), connectTimeoutMs: 1_000, ...pool } },
    routes: [{ name: 'main', pool: 'app', affinity: 'soft' }],
    ...extra,
  };
}

export async function startProxy(t: ExecutionContext, raw: unknown, options: { resolver?: Resolver } = {}): Promise<RunningProxy> {
  const config = parseProxyConfig(raw);
  const proxy = createProxy({ config, logger: createLogger(config.log.level), ...(options.resolver ? { resolver: options.resolver } : {}) });
  t.teardown(() => proxy.destroy());
  const addresses = await proxy.listen();
  return { proxy, url: `http://127.0.0.1:${addresses.http.port}`, adminUrl: `http://127.0.0.1:${addresses.admin?.port ?? 0}` };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** x-stickless-backend */
  backend: string | undefined;
  /** x-stickless-affinity */
  affinity: string | undefined;
  /** `name=value` of the pin cookie set by this response, if any. */
  pin: string | undefined;
  json<T = any>(): T;
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A `name=value` pin or any Cookie header value. */
  cookie?: string;
  body?: string | Buffer;
  cookieName?: string;
}

export async function call(url: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers['cookie'] = options.cookie;
  const response = await request(url, {
    dispatcher: agent,
    method: (options.method ?? 'GET') as 'GET',
    headers,
    body: options.body ?? null,
    headersTimeout: CALL_TIMEOUT_MS,
    bodyTimeout: CALL_TIMEOUT_MS,
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await response.body.text();
  const cookieName = options.cookieName ?? 'stickless';
  const setCookie = response.headers['set-cookie'];
  const pin = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).find((c) => c.startsWith(`${cookieName}=`))?.split(';')[0];
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    backend: response.headers['x-stickless-backend'] as string | undefined,
    affinity: response.headers['x-stickless-affinity'] as string | undefined,
    pin,
    json: () => JSON.parse(text),
  };
}

/** Admin API call with the test token (or `token`). */
export async function admin(running: RunningProxy, method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<Reply> {
  return call(`${running.adminUrl}${path}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Polls `check` until it returns a truthy value, at most `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

/** Requests until one lands on `backendId` (fresh clients, no cookie); returns its pin. */
export async function pinTo(url: string, backendId: string, options: CallOptions = {}): Promise<string> {
  return waitFor(`a pin on ${backendId}`, async () => {
    const reply = await call(url, options);
    return reply.backend === backendId && reply.pin ? reply.pin : undefined;
  });
}

/** State of one backend as the admin API reports it. */
export async function backendState(running: RunningProxy, id: string): Promise<{ state: string; health: string; inFlight: number; draining: boolean }> {
  const reply = await admin(running, 'GET', `/backends/${encodeURIComponent(id)}`);
  return reply.json();
}

/** Resolves with `promise`, or rejects once `timeoutMs` passed first (naming `what`); the timer never outlives the race. */
export async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
