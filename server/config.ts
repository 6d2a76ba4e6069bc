// sessiond configuration: one schema, one defaults object, one parse step at startup that reports
// every problem by name and returns a frozen result. docs/configuration.md documents each option.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SessionError } from '../proto/errors.ts';

const positiveMs = z.coerce.number().int().positive();

/** The schema of every option. Durations end in `Ms`, sizes in `Bytes`. */
export const serverConfigSchema = z.object({
  /** `host:port` the gRPC server listens on; port 0 picks a free one. */
  listen: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port'),
  /** `host:port` of the Prometheus /metrics listener; empty: no metrics listener. */
  metricsListen: z.union([z.literal(''), z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port or empty')]),
  /** `redis` (production) or `memory` (one process, nothing survives a restart). */
  store: z.enum(['redis', 'memory']),
  /** Standalone Redis URL. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
  /** Sentinel `host:port` list; when non-empty sessiond finds the primary through Sentinel. */
  redisSentinels: z.array(z.string().regex(/^[^\s]+:\d{1,5}$/, 'expected host:port')),
  /** Name of the primary the sentinels monitor. */
  redisSentinelName: z.string().min(1),
  /** Password of the Redis servers behind Sentinel (sensitive). */
  redisPassword: z.string().optional(),
  /** Prefix of every Redis key and channel. */
  keyPrefix: z.string().max(64),
  /** Time to live of a session created without one. */
  defaultTtlMs: positiveMs,
  /** Absolute lifetime cap: no session outlives created + this, however often it is touched. */
  maxLifetimeMs: positiveMs,
  /** Sum of field name and value bytes in one session. */
  maxSessionBytes: positiveMs,
  /** Fields in one session. */
  maxFields: positiveMs,
  /** Bytes of one field value. */
  maxFieldBytes: positiveMs,
  /** Operations in one Patch. */
  maxPatchOps: positiveMs,
  /** How long an idempotency key remembers its first result. */
  idempotencyWindowMs: positiveMs,
  /** Replicas that must confirm each write (Redis WAIT) before sessiond acknowledges it; 0: none. */
  replicaAcks: z.coerce.number().int().min(0).max(16),
  /** How long a write waits for replica confirmations before failing with UNAVAILABLE. */
  replicaAckTimeoutMs: positiveMs,
  /** A Redis command with no answer after this fails with UNAVAILABLE. */
  commandTimeoutMs: positiveMs,
  /** TCP connect timeout towards Redis. */
  connectTimeoutMs: positiveMs,
  /** On SIGTERM, how long in-flight calls may take before the server stops hard. */
  shutdownGraceMs: positiveMs,
  /**
   * Bearer token -> namespaces it may use (`*` for all). Empty: no authentication (trusted network).
   * Sensitive.
   */
  namespaceTokens: z.record(z.string().min(16, 'tokens must have at least 16 characters'), z.array(z.string().min(1)).min(1)),
  /** pino level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
}).strict();

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Defaults of every option. */
export const DEFAULT_SERVER_OPTIONS: Readonly<ServerConfig> = Object.freeze({
  listen: '0.0.0.0:50051',
  metricsListen: '',
  store: 'redis',
  redisUrl: 'redis://127.0.0.1:6379',
  redisSentinels: [],
  redisSentinelName: 'mymaster',
  keyPrefix: 'stickless:',
  defaultTtlMs: 30 * 60_000,
  maxLifetimeMs: 24 * 3_600_000,
  maxSessionBytes: 256 * 1024,
  maxFields: 256,
  maxFieldBytes: 64 * 1024,
  maxPatchOps: 256,
  idempotencyWindowMs: 10 * 60_000,
  replicaAcks: 0,
  replicaAckTimeoutMs: 500,
  commandTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  shutdownGraceMs: 10_000,
  namespaceTokens: {},
  logLevel: 'info',
});

/** Environment variable of each option. */
export const SERVER_ENV_VARS: Readonly<Record<keyof ServerConfig, string>> = Object.freeze({
  listen: 'STICKLESS_LISTEN',
  metricsListen: 'STICKLESS_METRICS_LISTEN',
  store: 'STICKLESS_STORE',
  redisUrl: 'REDIS_URL',
  redisSentinels: 'STICKLESS_REDIS_SENTINELS',
  redisSentinelName: 'STICKLESS_REDIS_SENTINEL_NAME',
  redisPassword: 'STICKLESS_REDIS_PASSWORD',
  keyPrefix: 'STICKLESS_KEY_PREFIX',
  defaultTtlMs: 'STICKLESS_DEFAULT_TTL_MS',
  maxLifetimeMs: 'STICKLESS_MAX_LIFETIME_MS',
  maxSessionBytes: 'STICKLESS_MAX_SESSION_BYTES',
  maxFields: 'STICKLESS_MAX_FIELDS',
  maxFieldBytes: 'STICKLESS_MAX_FIELD_BYTES',
  maxPatchOps: 'STICKLESS_MAX_PATCH_OPS',
  idempotencyWindowMs: 'STICKLESS_IDEMPOTENCY_WINDOW_MS',
  replicaAcks: 'STICKLESS_REPLICA_ACKS',
  replicaAckTimeoutMs: 'STICKLESS_REPLICA_ACK_TIMEOUT_MS',
  commandTimeoutMs: 'STICKLESS_COMMAND_TIMEOUT_MS',
  connectTimeoutMs: 'STICKLESS_CONNECT_TIMEOUT_MS',
  shutdownGraceMs: 'STICKLESS_SHUTDOWN_GRACE_MS',
  namespaceTokens: 'STICKLESS_NAMESPACE_TOKENS',
  logLevel: 'STICKLESS_LOG_LEVEL',
});

/** Options whose values are secrets: redacted wherever config is shown. */
export const SENSITIVE_SERVER_OPTIONS: ReadonlySet<keyof ServerConfig> = new Set(['redisPassword', 'namespaceTokens']);

/** Raw values from environment variables; lists are comma-separated, tokens are JSON. */
export function readServerEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [option, name] of Object.entries(SERVER_ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (option === 'redisSentinels') raw[option] = value.split(',').map((s) => s.trim()).filter(Boolean);
    else if (option === 'namespaceTokens') raw[option] = parseJsonOption(name, value);
    else raw[option] = value;
  }
  return raw;
}

function parseJsonOption(name: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new SessionError('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n  ${name}: expected JSON`);
  }
}

/** Reads a YAML or JSON config file into raw option values. */
export function readServerConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SessionError('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n  config file ${path}: ${(error as Error).message}`);
  }
  const parsed: unknown = parseYaml(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SessionError('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n  config file ${path}: expected a mapping of options`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Validates layered raw values (later layers win: defaults, file, environment, flags) and returns a
 * frozen config. Throws SESS_ERR_CONFIG_INVALID listing every problem as `option: message`.
 */
export function parseServerConfig(...layers: Array<Record<string, unknown>>): Readonly<ServerConfig> {
  const merged: Record<string, unknown> = { ...DEFAULT_SERVER_OPTIONS };
  for (const layer of layers) for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join('.') : issue.code === 'unrecognized_keys' ? 'options' : '(root)';
      return `  ${path}: ${issue.message}`;
    });
    throw new SessionError('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  const problems: string[] = [];
  if (config.defaultTtlMs > config.maxLifetimeMs) problems.push(`  defaultTtlMs: ${config.defaultTtlMs} exceeds maxLifetimeMs (${config.maxLifetimeMs})`);
  if (config.maxFieldBytes > config.maxSessionBytes) problems.push(`  maxFieldBytes: ${config.maxFieldBytes} exceeds maxSessionBytes (${config.maxSessionBytes})`);
  if (config.replicaAcks > 0 && config.replicaAckTimeoutMs >= config.commandTimeoutMs) {
    problems.push(`  replicaAckTimeoutMs: ${config.replicaAckTimeoutMs} must be below commandTimeoutMs (${config.commandTimeoutMs})`);
  }
  if (problems.length > 0) throw new SessionError('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n${problems.join('\n')}`);
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The config with sensitive values replaced, for logs and diagnostics. */
export function redactServerConfig(config: Readonly<ServerConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const key of SENSITIVE_SERVER_OPTIONS) if (out[key] !== undefined) out[key] = '[REDACTED]';
  out.redisUrl = config.redisUrl.replace(/\/\/([^@/]*)@/, '//[REDACTED]@');
  return out;
}
