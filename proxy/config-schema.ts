// The proxy's configuration contract: one zod schema, the defaults it applies, and the types derived
// from it. A YAML file is parsed into this shape by config.ts; docs/proxy.md documents every option.
import { z } from 'zod';

/**
 * Every default in one place. The schema below reads from here, so the documented defaults and
 * the applied ones cannot drift apart.
 */
export const DEFAULT_PROXY_OPTIONS = {
  listen: {
    /** Data-plane listener address. */
    host: '0.0.0.0',
    /** Data-plane port; 0 picks a free one (tests). */
    port: 8080,
    /** Keep and extend X-Forwarded-* and Forwarded from clients (only behind another trusted proxy). */
    trustForwardedHeaders: false,
    /** Idle time, ms, after which a client keep-alive connection is closed. */
    keepAliveTimeoutMs: 65_000,
    /** Time, ms, a client has to send complete request headers (→ 408); checked every second. */
    requestHeadersTimeoutMs: 30_000,
    /** Time, ms, a client has to send a whole request, headers and body (→ 408); 0 disables. */
    requestTimeoutMs: 300_000,
    /** Max gap, ms, between two request body chunks from the client (→ 408); 0 disables. */
    requestBodyIdleTimeoutMs: 30_000,
    /**
     * Bytes. A body whose Content-Length is at most this is read whole before a backend connection
     * is taken, so a slow client holds no upstream connection. Larger and chunked bodies stream as
     * they arrive and count against the pool's maxUploadConnections until they end.
     */
    requestBodyBufferBytes: 64 * 1024,
  },
  admin: {
    /** Admin listener address: loopback unless an operator opts out. */
    host: '127.0.0.1',
    port: 9901,
  },
  /** close(): time, ms, in-flight requests and WebSockets get before they are cut. */
  shutdownTimeoutMs: 30_000,
  /**
   * Processes serving the data listener: 1 (this process does everything), N (a primary runs health
   * checks, discovery and the admin API once; N node:cluster workers serve), or `auto` (one per core).
   * Read at start only (proxy/main.ts); a reload cannot change it.
   */
  workers: 1 as number | 'auto',
  log: { level: 'info' as 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' },
  pool: {
    /** Max connections per backend (UpstreamClient `connections`). */
    connections: 256,
    /**
     * Max connections per backend held by request bodies still streaming from their client
     * (chunked, or over listen.requestBodyBufferBytes); more get 503 PRX_ERR_TOO_MANY_UPLOADS.
     * Absent: half of `connections`, so slow uploads never take every connection.
     */
    maxUploadConnections: undefined as number | undefined,
    /** Time, ms, to establish a TCP connection to a backend. */
    connectTimeoutMs: 2_000,
    /** Idle time, ms, after which an unused upstream keep-alive connection is closed. */
    keepAliveTimeoutMs: 30_000,
    /** Default drain deadline, ms, after which hard pins and WebSockets leave a draining backend. */
    drainTimeoutMs: 30_000,
    health: {
      path: '/healthz',
      intervalMs: 5_000,
      timeoutMs: 2_000,
      /** Consecutive passing checks that bring a down backend up. */
      rise: 2,
      /** Consecutive failing checks that take an up backend down. */
      fall: 3,
    },
    outlier: {
      /** Consecutive connect errors, resets, timeouts or 5xx responses that eject a backend; 0 disables. */
      consecutiveFailures: 5,
      /** First ejection, ms; doubles with each repeated ejection. */
      baseEjectionMs: 10_000,
      /** Cap on the growing ejection period, ms. */
      maxEjectionMs: 300_000,
      /** Never eject more than this percentage of a pool (at least one backend may always be ejected). */
      maxEjectedPercent: 50,
    },
    dns: {
      /** `a`: name → addresses (A/AAAA via the system resolver, as compose replicas appear); `srv`: SRV records carry the ports. */
      type: 'a' as 'a' | 'srv',
      /** Re-resolution period, ms. */
      intervalMs: 5_000,
      /** 0 both, 4 IPv4 only, 6 IPv6 only. */
      family: 0 as 0 | 4 | 6,
      protocol: 'http' as 'http' | 'https',
    },
  },
  route: {
    affinity: 'soft' as 'none' | 'soft' | 'hard',
    cookie: {
      name: 'stickless',
      path: '/',
      /** Max-Age attribute and server-side validity of a pin, seconds. */
      maxAgeSeconds: 86_400,
      secure: false,
      httpOnly: true,
      sameSite: 'lax' as 'strict' | 'lax' | 'none',
      /** Gateway API lifetimeType: `permanent` sends Max-Age, `session` sends none (the browser drops it on exit). */
      lifetime: 'permanent' as 'session' | 'permanent',
      /** Set the Partitioned attribute (CHIPS); forces Secure. */
      partitioned: false,
      /** A pin issued (or last re-issued) longer ago than this is void, seconds; absent: only maxAgeSeconds applies. */
      idleTimeoutSeconds: undefined as number | undefined,
      /** A pin whose first issue is longer ago than this is void, however active the client, seconds; absent: none. */
      absoluteTimeoutSeconds: undefined as number | undefined,
      /** Pins issued up to this far in the future (instances' clocks disagree) are accepted, seconds. */
      clockSkewSeconds: 60,
    },
    timeouts: {
      /** Time, ms, from sending the request until the backend's response headers arrive (→ 504). */
      headersMs: 30_000,
      /** Max gap, ms, between two response body chunks. */
      bodyIdleMs: 60_000,
      /** A WebSocket (upgrade) tunnel with no byte in either direction for this long is closed, ms; 0 disables. */
      tunnelIdleMs: 300_000,
    },
    retry: {
      /** Total tries of one request, first included; only idempotent, bodiless-or-unread requests on none/soft routes. */
      attempts: 2,
      /** Also retry when a reused connection closes before any response byte (stale keep-alive, killed backend). */
      onReset: true,
    },
    soft: {
      /** A pinned backend whose in-flight count exceeds this multiple of the pool mean counts as overloaded. */
      overloadFactor: 2,
      /** ...and only once it has at least this many requests in flight. */
      overloadMinInFlight: 8,
    },
    hard: {
      /** `reject`: 503 + Retry-After while the pinned backend is down; `repin`: the same, then re-pin once it has been down `repinAfterMs`. */
      whenDown: 'reject' as 'reject' | 'repin',
      retryAfterSeconds: 5,
      repinAfterMs: 30_000,
    },
  },
} as const;

const D = DEFAULT_PROXY_OPTIONS;
const ms = (min = 0) => z.number().int().min(min);
const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected ${values.join(' | ')}` });

/** A secret: inline string (discouraged), `{ env: NAME }` or `{ file: path }` (relative to the config file). */
export const secretSchema = z.union([z.string().min(1), z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })], {
  error: 'expected a string, { env: NAME } or { file: path }',
});
export type SecretRef = z.output<typeof secretSchema>;

/** Backend ids go into cookies and admin URLs: keep them URL- and cookie-safe. */
const backendId = z.string().regex(/^[A-Za-z0-9._~:@[\]-]{1,128}$/, { error: 'expected 1-128 characters of A-Z a-z 0-9 . _ ~ : @ [ ] -' });

const backendUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && (url.pathname === '/' || url.pathname === '') && !url.search;
    } catch {
      return false;
    }
  },
  { error: 'expected an http(s) origin such as http://10.0.0.5:3000' },
);

export const backendSchema = z.strictObject({
  /** Stable id: written into pins, so keep it across restarts of the same replica. */
  id: backendId,
  url: backendUrl,
  /** Relative share for the balancer and rendezvous hashing; 0 takes no new clients but keeps its pinned ones (canary, blue/green). */
  weight: z.number().int().min(0).max(1000).default(1),
});

export const poolSchema = z
  .strictObject({
    backends: z.array(backendSchema).default([]),
    /** DNS discovery: every address of `name` becomes a backend with id `<name>@<address>:<port>`. */
    dns: z
      .strictObject({
        name: z.string().min(1),
        port: z.number().int().min(1).max(65_535).optional(),
        type: enumOf(['a', 'srv']).default(D.pool.dns.type),
        intervalMs: ms(100).default(D.pool.dns.intervalMs),
        family: z.union([z.literal(0), z.literal(4), z.literal(6)], { error: 'expected 0 | 4 | 6' }).default(D.pool.dns.family),
        protocol: enumOf(['http', 'https']).default(D.pool.dns.protocol),
        weight: z.number().int().min(1).max(1000).default(1),
      })
      .optional(),
    /** Active checks; absent means none (backends count as up until passive ejection says otherwise). */
    health: z
      .strictObject({
        path: z.string().startsWith('/', { error: 'expected a path starting with /' }).default(D.pool.health.path),
        intervalMs: ms(50).default(D.pool.health.intervalMs),
        timeoutMs: ms(10).default(D.pool.health.timeoutMs),
        rise: z.number().int().min(1).default(D.pool.health.rise),
        fall: z.number().int().min(1).default(D.pool.health.fall),
      })
      .optional(),
    outlier: z
      .strictObject({
        consecutiveFailures: z.number().int().min(0).default(D.pool.outlier.consecutiveFailures),
        baseEjectionMs: ms(1).default(D.pool.outlier.baseEjectionMs),
        maxEjectionMs: ms(1).default(D.pool.outlier.maxEjectionMs),
        maxEjectedPercent: z.number().min(0).max(100).default(D.pool.outlier.maxEjectedPercent),
      })
      .prefault({}),
    connections: z.number().int().min(1).default(D.pool.connections),
    maxUploadConnections: z.number().int().min(1).optional(),
    connectTimeoutMs: ms(1).default(D.pool.connectTimeoutMs),
    keepAliveTimeoutMs: ms(1).default(D.pool.keepAliveTimeoutMs),
    drainTimeoutMs: ms(0).default(D.pool.drainTimeoutMs),
    /**
     * https backends: `caFile`, the CA certificates (PEM) this pool trusts instead of Node's bundled
     * roots (backends of a private CA); `certFile` + `keyFile`, the client certificate the proxy
     * presents (backends that require mTLS).
     */
    tls: z
      .strictObject({ caFile: z.string().min(1).optional(), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() })
      .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), { error: 'certFile and keyFile go together', path: ['keyFile'] })
      .refine((tls) => tls.caFile !== undefined || tls.certFile !== undefined, { error: 'expected caFile, or certFile and keyFile' })
      .optional(),
  })
  .superRefine((pool, ctx) => {
    if (pool.backends.length === 0 && !pool.dns) ctx.addIssue({ code: 'custom', path: ['backends'], message: 'a pool needs static backends or dns discovery' });
    if (pool.dns?.type === 'a' && pool.dns.port === undefined) ctx.addIssue({ code: 'custom', path: ['dns', 'port'], message: 'required when dns.type is a' });
  });

/** How a request names its pin. */
export const affinityKeySchema = z.discriminatedUnion(
  'type',
  [
    /** The proxy's own signed cookie (see `cookie`). */
    z.strictObject({ type: z.literal('cookie') }),
    /** A request header (API clients): rendezvous-hashed over the pool. */
    z.strictObject({ type: z.literal('header'), name: z.string().min(1).transform((name) => name.toLowerCase()) }),
    /** An application cookie such as a session id: rendezvous-hashed over the pool. */
    z.strictObject({ type: z.literal('app-cookie'), name: z.string().min(1) }),
  ],
  { error: 'expected { type: cookie } | { type: header, name } | { type: app-cookie, name }' },
);

export const routeSchema = z.strictObject({
  /** Unique; used in metrics, logs and admin URLs. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected 1-64 characters of A-Z a-z 0-9 . _ -' }),
  match: z.strictObject({
    /** Matches the path itself and anything below it on a segment boundary; the longest prefix wins. */
    pathPrefix: z.string().startsWith('/', { error: 'expected a path starting with /' }).default('/'),
    /** Exact host (case-insensitive, port ignored); absent matches any host. */
    host: z.string().min(1).transform((host) => host.toLowerCase()).optional(),
  }).prefault({}),
  pool: z.string().min(1),
  affinity: enumOf(['none', 'soft', 'hard']).default(D.route.affinity),
  key: affinityKeySchema.default({ type: 'cookie' }),
  cookie: z
    .strictObject({
      name: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'expected a cookie-name token' }).default(D.route.cookie.name),
      path: z.string().startsWith('/', { error: 'expected a path starting with /' }).default(D.route.cookie.path),
      maxAgeSeconds: z.number().int().min(1).default(D.route.cookie.maxAgeSeconds),
      secure: z.boolean().default(D.route.cookie.secure),
      httpOnly: z.boolean().default(D.route.cookie.httpOnly),
      sameSite: enumOf(['strict', 'lax', 'none']).default(D.route.cookie.sameSite),
      /** Domain attribute; absent: a host-only cookie (Gateway API leaves Domain unset). */
      domain: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a domain name' }).optional(),
      lifetime: enumOf(['session', 'permanent']).default(D.route.cookie.lifetime),
      partitioned: z.boolean().default(D.route.cookie.partitioned),
      idleTimeoutSeconds: z.number().int().min(1).optional(),
      absoluteTimeoutSeconds: z.number().int().min(1).optional(),
      clockSkewSeconds: z.number().int().min(0).max(3600).default(D.route.cookie.clockSkewSeconds),
    })
    .prefault({}),
  /**
   * Pins learned from the response: the backend's own session value (a response header such as
   * Mcp-Session-Id, or a cookie such as JSESSIONID) is wrapped with a signed pin on the way out and
   * unwrapped on the way in (learned-pin.ts). No stickless cookie is set on such a route.
   */
  learn: z
    .union([z.strictObject({ responseHeader: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).transform((n) => n.toLowerCase()) }), z.strictObject({ responseCookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/) })], {
      error: 'expected { responseHeader: NAME } or { responseCookie: NAME }',
    })
    .optional(),
  /** Issue a pin only once the app has set its own session cookie NAME (or the request carries it); anonymous traffic is balanced freely. */
  pinWhen: z.strictObject({ cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { error: 'expected a cookie-name token' }) }).optional(),
  timeouts: z
    .strictObject({
      headersMs: ms(1).default(D.route.timeouts.headersMs),
      bodyIdleMs: ms(0).default(D.route.timeouts.bodyIdleMs),
      tunnelIdleMs: ms(0).default(D.route.timeouts.tunnelIdleMs),
    })
    .prefault({}),
  retry: z
    .strictObject({
      attempts: z.number().int().min(1).max(10).default(D.route.retry.attempts),
      onReset: z.boolean().default(D.route.retry.onReset),
    })
    .prefault({}),
  soft: z
    .strictObject({
      overloadFactor: z.number().min(1).default(D.route.soft.overloadFactor),
      overloadMinInFlight: z.number().int().min(1).default(D.route.soft.overloadMinInFlight),
    })
    .prefault({}),
  hard: z
    .strictObject({
      whenDown: enumOf(['reject', 'repin']).default(D.route.hard.whenDown),
      retryAfterSeconds: z.number().int().min(0).default(D.route.hard.retryAfterSeconds),
      repinAfterMs: ms(0).default(D.route.hard.repinAfterMs),
    })
    .prefault({}),
});

export const proxyConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default(D.listen.host),
      port: z.number().int().min(0).max(65_535).default(D.listen.port),
      trustForwardedHeaders: z.boolean().default(D.listen.trustForwardedHeaders),
      keepAliveTimeoutMs: ms(1).default(D.listen.keepAliveTimeoutMs),
      requestHeadersTimeoutMs: ms(1).default(D.listen.requestHeadersTimeoutMs),
      requestTimeoutMs: ms(0).default(D.listen.requestTimeoutMs),
      requestBodyIdleTimeoutMs: ms(0).default(D.listen.requestBodyIdleTimeoutMs),
      requestBodyBufferBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(D.listen.requestBodyBufferBytes),
    })
    .superRefine((listen, ctx) => {
      // Node refuses a headers timeout longer than the whole-request timeout.
      if (listen.requestTimeoutMs > 0 && listen.requestTimeoutMs < listen.requestHeadersTimeoutMs) {
        ctx.addIssue({ code: 'custom', path: ['requestTimeoutMs'], message: `expected 0 or at least requestHeadersTimeoutMs (${listen.requestHeadersTimeoutMs})` });
      }
    })
    .prefault({}),
  /** Absent: no admin listener. */
  admin: z
    .strictObject({
      host: z.string().min(1).default(D.admin.host),
      port: z.number().int().min(0).max(65_535).default(D.admin.port),
      /** Bearer token every admin request must carry (except GET /healthz). */
      token: secretSchema,
    })
    .optional(),
  /** Pin-signing keys: the first signs, all verify. Each at least 16 characters. */
  keys: z.array(secretSchema).min(1, { error: 'expected at least one key' }),
  shutdownTimeoutMs: ms(0).default(D.shutdownTimeoutMs),
  workers: z.union([z.number().int().min(1).max(256), z.literal('auto')], { error: 'expected a whole number 1-256 or auto' }).default(D.workers),
  log: z.strictObject({ level: enumOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(D.log.level) }).prefault({}),
  pools: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected a pool name of A-Z a-z 0-9 . _ -' }), poolSchema),
  routes: z.array(routeSchema).min(1, { error: 'expected at least one route' }),
});

type Parsed = z.output<typeof proxyConfigSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
/** A pool's `tls` with the files' contents (PEM), read when the configuration is parsed or reloaded. */
export type PoolTls = NonNullable<z.output<typeof poolSchema>['tls']> & { ca?: string | undefined; cert?: string | undefined; key?: string | undefined };
export type PoolConfig = Omit<z.output<typeof poolSchema>, 'tls'> & { tls?: PoolTls | undefined };
export type HealthConfig = NonNullable<PoolConfig['health']>;
export type OutlierConfig = PoolConfig['outlier'];
export type DnsConfig = NonNullable<PoolConfig['dns']>;
export type RouteConfig = z.output<typeof routeSchema>;
export type AffinityMode = RouteConfig['affinity'];
export type AffinityKeyConfig = RouteConfig['key'];
export type CookieConfig = RouteConfig['cookie'];
export type LearnConfig = NonNullable<RouteConfig['learn']>;

/** The validated configuration with every secret resolved to its value. */
export type ProxyConfig = Omit<Parsed, 'keys' | 'admin' | 'pools'> & {
  keys: string[];
  pools: Record<string, PoolConfig>;
  admin?: Omit<NonNullable<Parsed['admin']>, 'token'> & { token: string };
};
