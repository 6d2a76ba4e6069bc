// A small client for the proxy's admin API (admin.ts), used by `stickless proxy routes | backends |
// set-affinity | drain`. Every call has a deadline; a refusal becomes an AdminCallError carrying the
// proxy's stable PRX_ERR_* code and HTTP status, so callers match on the code.
import type { BackendView, RouteView } from './admin.ts';
import type { AffinityMode } from './config-schema.ts';

export interface AdminClientOptions {
  /** Admin listener origin, e.g. `http://127.0.0.1:9901`. */
  url: string;
  /** The proxy's admin.token. */
  token: string;
  /** Deadline of each call, ms. Default 10000. */
  timeoutMs?: number;
}

export const DEFAULT_ADMIN_TIMEOUT_MS = 10_000;

/** The admin API refused the call (`status` ≥ 400), or it could not be reached (`status` 0, code PRX_ERR_ADMIN_UNREACHABLE). */
export class AdminCallError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AdminCallError';
    this.code = code;
    this.status = status;
  }
}

export class AdminClient {
  readonly #url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: AdminClientOptions) {
    this.#url = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
  }

  async routes(): Promise<RouteView[]> {
    return ((await this.#call('GET', '/routes')) as { routes: RouteView[] }).routes;
  }

  async setAffinity(route: string, affinity: AffinityMode): Promise<RouteView> {
    return (await this.#call('PUT', `/routes/${encodeURIComponent(route)}/affinity`, { affinity })) as RouteView;
  }

  async backends(): Promise<BackendView[]> {
    return ((await this.#call('GET', '/backends')) as { backends: BackendView[] }).backends;
  }

  /** Drains `id`; hard pins and WebSockets leave after `timeoutMs` (default: the pool's drainTimeoutMs). */
  async drain(id: string, timeoutMs?: number): Promise<BackendView> {
    return (await this.#call('POST', `/backends/${encodeURIComponent(id)}/drain`, timeoutMs === undefined ? {} : { timeoutMs })) as BackendView;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
      throw new AdminCallError('PRX_ERR_ADMIN_UNREACHABLE', 0, `cannot reach the admin API at ${this.#url}: ${reason}`, { cause: error });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AdminCallError(error?.code ?? 'PRX_ERR_INTERNAL', response.status, error?.message ?? `HTTP ${response.status}`);
    }
    return json;
  }
}
