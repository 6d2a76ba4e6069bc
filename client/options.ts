// What a SessionClient can be told, its defaults, and the one validation step at construction.
import * as grpc from '@grpc/grpc-js';
import { SessionError } from '../proto/errors.ts';

/**
 * How unary calls are retried (the policy is `shouldRetry` in client/retry.ts):
 * - failures after which nothing was applied are retried for every call, keyless mutations included:
 *   `SESS_ERR_SERVICE_UNAVAILABLE` (sessiond unreachable), `SESS_ERR_STORE_UNAVAILABLE` (sessiond
 *   could not reach Redis) and `SESS_ERR_NOT_ENOUGH_REPLICAS` (too few replicas for replicaAcks);
 * - failures after which a mutation may have been applied, `SESS_ERR_OUTCOME_UNKNOWN` and
 *   `SESS_ERR_REPLICA_ACK_TIMEOUT`, are retried only for calls that are safe to repeat: reads,
 *   `touch`, `delete`, `revokeByOwner`, and mutations that carry an idempotency key (see
 *   {@link SessionClientOptions.autoIdempotencyKeys}: on by default), whose retry is replayed if the
 *   first attempt was applied;
 * - nothing else is retried (`SESS_ERR_DEADLINE_EXCEEDED` included: the deadline is spent).
 * Retries never outlive the call's deadline.
 */
/**
 * TLS towards sessiond (see docs/security.md). PEM contents, not file paths: read the files yourself,
 * so that a rotated client certificate is picked up by the next client you build.
 */
export interface ClientTlsOptions {
  /** CA certificate(s) that signed sessiond's certificate. Default: the system's root CAs. */
  ca?: string | Buffer | undefined;
  /** Client certificate chain, for a sessiond that requires one (mTLS). Goes with `key`. */
  cert?: string | Buffer | undefined;
  /** Private key of `cert`. Sensitive. */
  key?: string | Buffer | undefined;
  /**
   * Name to check in sessiond's certificate when the address's host is not in it (e.g. dialing
   * `10.0.0.5:50051` whose certificate names `sessiond.internal`). Default: the address's host.
   */
  serverName?: string | undefined;
}

export interface RetryOptions {
  /** Attempts in total, the first one included. `1` disables retries. Default 4. */
  maxAttempts: number;
  /**
   * Backoff before the second attempt, in ms. Each further backoff doubles, up to `maxBackoffMs`.
   * Every backoff is jittered: a uniform pick between half and all of the computed value, so that
   * many clients failing together do not come back together. Default 50.
   */
  initialBackoffMs: number;
  /** Cap of one backoff, in ms. Default 1000. */
  maxBackoffMs: number;
}

/**
 * The near cache (client/near-cache.ts): copies of the sessions this client read or wrote, answered
 * with no network call while sessiond's Track stream vouches for them. What it guarantees
 * (docs/protocol.md, "Near cache and version tokens"):
 * - a copy is served only while trusted: from sessiond's TRACKING at the copy's exact version until
 *   an event says it changed; a RESYNC or a broken stream makes every copy untrusted at once, and
 *   trust returns per id after the stream is back and the id was confirmed again;
 * - never below a read's `minVersion` (a version token), so read-your-writes and monotonic reads
 *   per user hold across app replicas whatever the invalidations' timing;
 * - never past the session's expiry (computed with a bound on the clock offset to the store);
 * - for other writers, staleness is bounded by the invalidation lag (see `nearCacheStats().lagMs`).
 * Hits decode the stored MessagePack bytes again, so callers may mutate what they get.
 */
export interface NearCacheOptions {
  /**
   * Most copies held; the least recently used goes first. The Track stream holds up to this many ids
   * plus 1,024 recently invalidated ones (docs/near-cache.md), so keep it at least 1,024 below
   * sessiond's `maxTrackedIds` (default 100 000). Default 10 000.
   */
  maxEntries: number;
  /**
   * Most bytes held, as accounted: each copy's field names and values, its id, and a fixed estimate
   * of its objects (client/near-cache.ts `sizeOf`; the JS heap a copy costs stays under it). A copy
   * larger than this on its own is not cached. Default 67 108 864 (64 MiB).
   */
  maxBytes: number;
}

/** Defaults of a near cache turned on with `nearCache: {}` or `nearCache: true`. */
export const DEFAULT_NEAR_CACHE_OPTIONS: Readonly<NearCacheOptions> = Object.freeze({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });

/** Options of `new SessionClient(options)`. Only `address` and `namespace` are required. */
export interface SessionClientOptions {
  /**
   * The sessiond instance(s) to dial, as a gRPC target: one `host:port` (e.g. `127.0.0.1:50051`), or
   * `dns:///sessiond.internal:50051` for every address of a name (re-resolved when a connection
   * fails), or `ipv4:10.0.0.5:50051,10.0.0.6:50051`. The constructor also takes a list of `IP:port`
   * addresses and turns it into an `ipv4:`/`ipv6:` target. Calls are balanced round robin over the
   * instances that are connected, unless `channelOptions` names another policy
   * (`grpc.service_config` or `grpc.lb_policy_name`); an instance that fails leaves the rotation
   * until it is back, and a call lost with it is retried on another within the retry budget.
   */
  address: string;
  /** The namespace (one app or tenant) every call of this client works in. */
  namespace: string;
  /**
   * Namespace token, sent as `authorization: Bearer <token>` on every call. Needed only when
   * sessiond is configured with namespace tokens. Sensitive: never put it in logs.
   */
  token?: string | undefined;
  /**
   * Deadline of one logical call in ms, retries and backoffs included. A call still unanswered then
   * rejects with `SESS_ERR_DEADLINE_EXCEEDED`. Each method accepts `{ deadlineMs }` to override it
   * for one call. `watch()` streams have no deadline. Default 2000.
   */
  deadlineMs: number;
  /** Retry policy; see {@link RetryOptions} for what is retried. Fields not given keep their default. */
  retry: RetryOptions;
  /**
   * When true (default), every mutation called without an `idempotencyKey` gets a fresh random one
   * (`crypto.randomUUID()`), reused by that call's retries. The server then applies the mutation at
   * most once even when an answer was lost and the call was sent again, so `create`, `put`, `patch`,
   * `regenerate` and `revokeByOwner` are retried like reads. When false, mutations without an
   * explicit key are retried only after failures that applied nothing; on `SESS_ERR_OUTCOME_UNKNOWN`
   * they fail at once, because the server may have applied them before the answer was lost.
   */
  autoIdempotencyKeys: boolean;
  /**
   * How many read-modify-write rounds `update()` makes before it gives up and rethrows the last
   * `SESS_ERR_VERSION_CONFLICT`. Each round is one get and one conditional put. Default 16.
   */
  maxUpdateAttempts: number;
  /**
   * TLS (and mTLS) towards sessiond, made into `credentials`; see {@link ClientTlsOptions}. Give
   * either `tls` or `credentials`. Default: none (plaintext).
   */
  tls?: ClientTlsOptions | undefined;
  /**
   * Transport security as grpc-js credentials, for what `tls` does not cover. Default
   * `grpc.credentials.createInsecure()` (plaintext, trusted network).
   */
  credentials?: grpc.ChannelCredentials | undefined;
  /**
   * Raw grpc-js channel options, passed through unchanged, for example
   * `{ 'grpc.keepalive_time_ms': 30_000, 'grpc.initial_reconnect_backoff_ms': 200 }`.
   * Default `{}`.
   */
  channelOptions: grpc.ChannelOptions;
  /**
   * The near cache, off (`false`) by default in the library; `true` or `{}` turns it on with
   * {@link DEFAULT_NEAR_CACHE_OPTIONS}, and given fields override them. See {@link NearCacheOptions}.
   * With it on, the client keeps one Track stream open: `close()` or `destroy()` the client to end it.
   */
  nearCache: NearCacheOptions | false;
  /**
   * When true, `create`, `get`, `put`, `patch`, `delete`, `touch` and `regenerate` travel as messages
   * on one long-lived Pipeline stream instead of one unary call each (docs/protocol.md, "Pipelined
   * calls"): same answers, errors, deadlines and retries, at a fraction of the CPU per call on both
   * sides. The stream is bound to one sessiond: with a list of addresses, where every call is meant
   * to be balanced over the instances, the default is false; for one address (a name that resolves to
   * several instances included: each client then uses one of them, and moves on when it goes) true.
   * A sessiond without the Pipeline method is detected and the calls go unary. A stream with no call
   * in flight for a second is half-closed (so a process that never calls `close()` still exits) and
   * the next call opens a new one.
   */
  pipeline: boolean;
}

/** What the constructor accepts: the required options, and any subset of the others. */
export type SessionClientInit =
  & Pick<SessionClientOptions, 'namespace'>
  & { address: string | readonly string[] }
  & Partial<Omit<SessionClientOptions, 'address' | 'namespace' | 'retry' | 'nearCache' | 'pipeline'>>
  & { pipeline?: boolean | undefined }
  & { retry?: Partial<RetryOptions> | undefined; nearCache?: Partial<NearCacheOptions> | boolean | undefined };

/** Defaults of every optional option. */
export const DEFAULT_CLIENT_OPTIONS: Readonly<Omit<SessionClientOptions, 'address' | 'namespace' | 'token' | 'credentials' | 'tls' | 'pipeline'>> = Object.freeze({
  deadlineMs: 2000,
  retry: Object.freeze({ maxAttempts: 4, initialBackoffMs: 50, maxBackoffMs: 1000 }),
  autoIdempotencyKeys: true,
  maxUpdateAttempts: 16,
  channelOptions: Object.freeze({}),
  nearCache: false,
});

/**
 * Fills in defaults and checks every option; throws one `SESS_ERR_INVALID_ARGUMENT` naming each
 * invalid option. The result is frozen.
 */
export function resolveClientOptions(init: SessionClientInit): Readonly<SessionClientOptions> {
  const options: SessionClientOptions = {
    ...DEFAULT_CLIENT_OPTIONS,
    ...withoutUndefined(init),
    address: '',
    namespace: init.namespace,
    retry: { ...DEFAULT_CLIENT_OPTIONS.retry, ...withoutUndefined(init.retry ?? {}) },
    channelOptions: withRoundRobin(init.channelOptions ?? DEFAULT_CLIENT_OPTIONS.channelOptions),
    nearCache: resolveNearCache(init.nearCache),
    pipeline: init.pipeline ?? !(Array.isArray(init.address) && init.address.length > 1),
  };
  const problems: string[] = [];
  const check = (ok: boolean, name: string, expected: string, value: unknown): void => {
    if (!ok) problems.push(`${name}: expected ${expected}, got ${describe(value)}`);
  };
  options.address = toGrpcTarget(init.address, problems);
  const { namespace, token, deadlineMs, retry, maxUpdateAttempts } = options;
  check(typeof namespace === 'string' && namespace.length > 0, 'namespace', 'a non-empty string', namespace);
  check(token === undefined || (typeof token === 'string' && token.length > 0), 'token', 'a non-empty string or undefined', token === undefined ? token : '<redacted>');
  check(isInt(deadlineMs, 1), 'deadlineMs', 'a positive integer (ms)', deadlineMs);
  check(isInt(retry.maxAttempts, 1), 'retry.maxAttempts', 'an integer >= 1', retry.maxAttempts);
  check(isInt(retry.initialBackoffMs, 0), 'retry.initialBackoffMs', 'an integer >= 0 (ms)', retry.initialBackoffMs);
  check(isInt(retry.maxBackoffMs, 0) && retry.maxBackoffMs >= retry.initialBackoffMs, 'retry.maxBackoffMs', 'an integer (ms) >= retry.initialBackoffMs', retry.maxBackoffMs);
  check(typeof options.autoIdempotencyKeys === 'boolean', 'autoIdempotencyKeys', 'a boolean', options.autoIdempotencyKeys);
  check(typeof options.pipeline === 'boolean', 'pipeline', 'a boolean', options.pipeline);
  check(isInt(maxUpdateAttempts, 1), 'maxUpdateAttempts', 'an integer >= 1', maxUpdateAttempts);
  check(options.credentials === undefined || options.credentials instanceof grpc.ChannelCredentials, 'credentials', 'grpc.ChannelCredentials', options.credentials);
  check(typeof options.channelOptions === 'object' && options.channelOptions !== null, 'channelOptions', 'an object', options.channelOptions);
  if (options.nearCache !== false) {
    const { maxEntries, maxBytes } = options.nearCache;
    check(isInt(maxEntries, 1), 'nearCache.maxEntries', 'an integer >= 1', maxEntries);
    check(isInt(maxBytes, 1024), 'nearCache.maxBytes', 'an integer >= 1024 (bytes)', maxBytes);
  }
  if (options.tls !== undefined) applyTls(options, problems);
  if (problems.length > 0) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `invalid SessionClient options: ${problems.join('; ')}`);
  }
  Object.freeze(options.retry);
  Object.freeze(options.channelOptions);
  if (options.nearCache) Object.freeze(options.nearCache);
  return Object.freeze(options);
}

/** Round robin over every address of the target, unless the caller chose a policy. */
const ROUND_ROBIN_SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

/**
 * The client's own service config, and no TXT lookup of a `dns:///` name for one: that query goes to
 * the upstream resolver (Docker passes it on), where an offline host leaves it unanswered.
 */
function withRoundRobin(channelOptions: grpc.ChannelOptions): grpc.ChannelOptions {
  if (typeof channelOptions !== 'object' || channelOptions === null) return channelOptions;
  if ('grpc.service_config' in channelOptions || 'grpc.lb_policy_name' in channelOptions) return { ...channelOptions };
  return { 'grpc.service_config_disable_resolution': 1, ...channelOptions, 'grpc.service_config': ROUND_ROBIN_SERVICE_CONFIG };
}

const IPV4_ADDRESS = /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/;
const IPV6_ADDRESS = /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;

/**
 * `address` as one gRPC target. grpc-js balances over the addresses of one target only, and its
 * only multi-address targets are `ipv4:` and `ipv6:` lists, so a list must hold IP:port entries of one
 * family (a name goes through `dns:///`, which yields every address of it).
 */
function toGrpcTarget(address: string | readonly string[], problems: string[]): string {
  if (typeof address === 'string') {
    if (!/^\S+$/.test(address)) problems.push(`address: expected a "host:port" string or gRPC target, got ${describe(address)}`);
    return address;
  }
  if (!Array.isArray(address) || address.length === 0 || !address.every((entry) => typeof entry === 'string')) {
    problems.push(`address: expected a "host:port" string or a non-empty list of "IP:port" strings, got ${describe(address)}`);
    return '';
  }
  if (address.length === 1) return toGrpcTarget(address[0]!, problems);
  const family = address.every((entry) => IPV4_ADDRESS.test(entry)) ? 'ipv4' : address.every((entry) => IPV6_ADDRESS.test(entry)) ? 'ipv6' : undefined;
  if (family === undefined) {
    const bad = address.findIndex((entry) => !IPV4_ADDRESS.test(entry) && !IPV6_ADDRESS.test(entry));
    problems.push(bad >= 0
      ? `address[${bad}]: a list takes "IP:port" entries (e.g. "10.0.0.5:50051"), got ${describe(address[bad])}; for a host name use "dns:///name:port", which balances over all of its addresses`
      : 'address: a list takes addresses of one family, all IPv4 or all IPv6');
    return '';
  }
  return `${family}:${address.join(',')}`;
}

function resolveNearCache(init: SessionClientInit['nearCache']): NearCacheOptions | false {
  if (init === undefined || init === false) return false;
  if (init === true) return { ...DEFAULT_NEAR_CACHE_OPTIONS };
  if (typeof init !== 'object' || init === null) {
    throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `invalid SessionClient options: nearCache: expected false, true or { maxEntries, maxBytes }, got ${describe(init)}`);
  }
  return { ...DEFAULT_NEAR_CACHE_OPTIONS, ...withoutUndefined(init) };
}

/** Checks `tls` and turns it into `credentials` (and a target name override). */
function applyTls(options: SessionClientOptions, problems: string[]): void {
  const { tls } = options;
  if (typeof tls !== 'object' || tls === null) {
    problems.push(`tls: expected an object, got ${describe(tls)}`);
    return;
  }
  if (options.credentials !== undefined) problems.push('tls: give either tls or credentials, not both');
  const pem = (name: 'ca' | 'cert' | 'key'): Buffer | null => {
    const value = tls[name];
    if (value === undefined) return null;
    if (typeof value === 'string' || Buffer.isBuffer(value)) return Buffer.from(value);
    problems.push(`tls.${name}: expected PEM as a string or Buffer, got ${describe(name === 'key' ? '<redacted>' : value)}`);
    return null;
  };
  const [ca, cert, key] = [pem('ca'), pem('cert'), pem('key')];
  if ((cert === null) !== (key === null)) problems.push('tls: cert and key go together: give both or neither');
  if (tls.serverName !== undefined && (typeof tls.serverName !== 'string' || tls.serverName === '')) problems.push(`tls.serverName: expected a host name, got ${describe(tls.serverName)}`);
  if (problems.length > 0) return;
  try {
    options.credentials = grpc.credentials.createSsl(ca, key, cert);
  } catch (error) {
    problems.push(`tls: ${(error as Error).message}`);
    return;
  }
  if (tls.serverName) options.channelOptions = { ...options.channelOptions, 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName };
  options.tls = Object.freeze({ ...tls });
}

function isInt(value: unknown, min: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return String(value);
}

// `{ deadlineMs: undefined }` means "not given", so it must not hide the default.
function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
