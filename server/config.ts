// sessiond configuration: one schema, one defaults object and one table of what each option means,
// then one parse step at startup that reports every problem by option and returns a frozen result.
// Where values come from (file, environment, flags) is config-sources.ts. docs/configuration.md
// documents each option.
import { z } from 'zod';
import { SessionError } from '../proto/errors.ts';

const WHOLE_ABOVE_0 = 'expected a whole number above 0';
const positiveMs = z.coerce.number(WHOLE_ABOVE_0).int(WHOLE_ABOVE_0).positive(WHOLE_ABOVE_0);
const filePath = z.string().min(1).optional();

/** `host:port` (IPv6 in brackets) with a port from 0 to 65535. */
export function isHostPort(value: string): boolean {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) <= 65535;
}
const hostPort = z.string().refine(isHostPort, 'expected host:port with a port from 0 to 65535');

/** The schema of every option. Durations end in `Ms`, sizes in `Bytes`; meanings are in SERVER_OPTIONS. */
export const serverConfigSchema = z.object({
  listen: hostPort,
  metricsListen: z.union([z.literal(''), hostPort]),
  tlsCertFile: filePath,
  tlsKeyFile: filePath,
  tlsCaFile: filePath,
  store: z.enum(['redis', 'memory']),
  redisUrl: z.string().regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL'),
  redisSentinels: z.array(z.string().refine(isHostPort, 'expected host:port')),
  redisSentinelName: z.string().min(1),
  redisClusterNodes: z.array(z.string().refine(isHostPort, 'expected host:port')),
  // From a flag or variable: "from=to,from=to" with host:port on both sides.
  redisClusterNatMap: z.preprocess(
    (value) => (typeof value === 'string' ? Object.fromEntries(value.split(',').map((s) => s.trim()).filter(Boolean).map((pair) => pair.split('='))) : value),
    z.record(z.string().refine(isHostPort, 'expected host:port keys'), z.string().refine(isHostPort, 'expected host:port values')),
  ),
  readFromReplicas: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], 'expected true or false'),
  // A list, or (from a flag or variable) one comma-separated string.
  redisReplicaUrls: z.preprocess(
    (value) => (typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value),
    z.array(z.string().regex(/^rediss?:\/\//, 'expected redis:// or rediss:// URLs')),
  ),
  redisUsername: z.string().min(1).optional(),
  redisPassword: z.string().optional(),
  redisTlsCaFile: filePath,
  redisTlsCertFile: filePath,
  redisTlsKeyFile: filePath,
  keyPrefix: z.string().max(64),
  defaultTtlMs: positiveMs,
  maxLifetimeMs: positiveMs,
  maxSessionBytes: positiveMs,
  maxFields: positiveMs,
  maxFieldBytes: positiveMs,
  maxPatchOps: positiveMs,
  idempotencyWindowMs: positiveMs,
  maxTrackedIds: positiveMs,
  maxQueuedEvents: positiveMs,
  maxPipelinedCalls: positiveMs,
  replicaAcks: z.coerce.number('expected a whole number from 0 to 16').int('expected a whole number from 0 to 16').min(0, 'expected a whole number from 0 to 16').max(16, 'expected a whole number from 0 to 16'),
  replicaAckTimeoutMs: positiveMs,
  commandTimeoutMs: positiveMs,
  connectTimeoutMs: positiveMs,
  shutdownGraceMs: positiveMs,
  namespaceTokens: z.record(z.string().min(16, 'tokens must have at least 16 characters'), z.array(z.string().min(1)).min(1)),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  reflection: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], 'expected true or false'),
}).strict();

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** Defaults of every option; options absent here are off unless set. */
export const DEFAULT_SERVER_OPTIONS: Readonly<ServerConfig> = Object.freeze({
  listen: '0.0.0.0:50051',
  metricsListen: '',
  store: 'redis',
  redisUrl: 'redis://127.0.0.1:6379',
  redisSentinels: [],
  redisSentinelName: 'mymaster',
  redisClusterNodes: [],
  redisClusterNatMap: {},
  readFromReplicas: false,
  redisReplicaUrls: [],
  keyPrefix: 'stickless:',
  defaultTtlMs: 30 * 60_000,
  maxLifetimeMs: 24 * 3_600_000,
  maxSessionBytes: 256 * 1024,
  maxFields: 256,
  maxFieldBytes: 64 * 1024,
  maxPatchOps: 256,
  idempotencyWindowMs: 10 * 60_000,
  maxTrackedIds: 100_000,
  maxQueuedEvents: 10_000,
  maxPipelinedCalls: 1024,
  replicaAcks: 0,
  replicaAckTimeoutMs: 500,
  commandTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  shutdownGraceMs: 10_000,
  namespaceTokens: {},
  logLevel: 'info',
  reflection: true,
});

export interface ServerOptionInfo {
  /** Environment variable that sets the option. */
  env: string;
  /** One line for `--help`: what the option does. */
  help: string;
  /** A secret: redacted wherever config is shown, and also read from the file named by `<env>_FILE`. */
  sensitive?: true;
}

/** What each option means, its environment variable, and whether it is a secret. `--help` prints this. */
export const SERVER_OPTIONS: Readonly<Record<keyof ServerConfig, ServerOptionInfo>> = Object.freeze({
  listen: { env: 'STICKLESS_LISTEN', help: 'host:port the gRPC server listens on; port 0 picks a free one' },
  metricsListen: { env: 'STICKLESS_METRICS_LISTEN', help: 'host:port of the Prometheus /metrics listener; empty: none' },
  tlsCertFile: { env: 'STICKLESS_TLS_CERT_FILE', help: 'PEM certificate chain: serve TLS (with tlsKeyFile); reloaded on SIGHUP' },
  tlsKeyFile: { env: 'STICKLESS_TLS_KEY_FILE', help: 'PEM private key of tlsCertFile; reloaded on SIGHUP' },
  tlsCaFile: { env: 'STICKLESS_TLS_CA_FILE', help: 'PEM CA bundle: require client certificates it signed (mTLS); reloaded on SIGHUP' },
  store: { env: 'STICKLESS_STORE', help: 'redis (production) or memory (one process, nothing survives a restart)' },
  redisUrl: { env: 'REDIS_URL', help: 'redis://[user:password@]host:port[/db]; rediss:// for TLS (also with Sentinel)', sensitive: true },
  redisSentinels: { env: 'STICKLESS_REDIS_SENTINELS', help: 'comma-separated Sentinel host:port list; set: find the primary through them' },
  redisSentinelName: { env: 'STICKLESS_REDIS_SENTINEL_NAME', help: 'name of the primary the sentinels monitor' },
  redisClusterNodes: { env: 'STICKLESS_REDIS_CLUSTER_NODES', help: 'comma-separated host:port seed nodes of a Redis Cluster; set: use the cluster (Redis >= 7)' },
  redisClusterNatMap: { env: 'STICKLESS_REDIS_CLUSTER_NAT_MAP', help: 'announced=reachable host:port pairs, comma-separated: where to reach cluster nodes that announce unreachable addresses (containers)' },
  readFromReplicas: { env: 'STICKLESS_READ_FROM_REPLICAS', help: 'serve Get from a Redis replica when its copy is at least min_version (else the primary): true or false' },
  redisReplicaUrls: { env: 'STICKLESS_REDIS_REPLICA_URLS', help: 'comma-separated redis:// URLs of replicas for readFromReplicas (standalone; Sentinel finds them itself)', sensitive: true },
  redisUsername: { env: 'STICKLESS_REDIS_USERNAME', help: 'Redis ACL user (instead of one in the URL)' },
  redisPassword: { env: 'STICKLESS_REDIS_PASSWORD', help: 'Redis password (instead of one in the URL; with Sentinel, of the servers behind it)', sensitive: true },
  redisTlsCaFile: { env: 'STICKLESS_REDIS_TLS_CA_FILE', help: 'PEM CA bundle that signed the Redis servers\' certificates (rediss://)' },
  redisTlsCertFile: { env: 'STICKLESS_REDIS_TLS_CERT_FILE', help: 'PEM client certificate for Redis servers that require one' },
  redisTlsKeyFile: { env: 'STICKLESS_REDIS_TLS_KEY_FILE', help: 'PEM private key of redisTlsCertFile' },
  keyPrefix: { env: 'STICKLESS_KEY_PREFIX', help: 'prefix of every Redis key and channel (at most 64 characters)' },
  defaultTtlMs: { env: 'STICKLESS_DEFAULT_TTL_MS', help: 'ms a session created without a TTL lives' },
  maxLifetimeMs: { env: 'STICKLESS_MAX_LIFETIME_MS', help: 'ms cap on a session\'s life from creation, however often touched' },
  maxSessionBytes: { env: 'STICKLESS_MAX_SESSION_BYTES', help: 'bytes of field names and values in one session' },
  maxFields: { env: 'STICKLESS_MAX_FIELDS', help: 'fields in one session' },
  maxFieldBytes: { env: 'STICKLESS_MAX_FIELD_BYTES', help: 'bytes of one field value' },
  maxPatchOps: { env: 'STICKLESS_MAX_PATCH_OPS', help: 'operations in one Patch' },
  idempotencyWindowMs: { env: 'STICKLESS_IDEMPOTENCY_WINDOW_MS', help: 'ms an idempotency record lives (a repeat answers with the session as it is now)' },
  maxTrackedIds: { env: 'STICKLESS_MAX_TRACKED_IDS', help: 'session ids one Track stream (a client\'s near cache) may hold at once' },
  maxQueuedEvents: { env: 'STICKLESS_MAX_QUEUED_EVENTS', help: 'events a Track or Watch stream may queue for a client that does not read them (Track: plus one per held id); past it the stream ends with RESOURCE_EXHAUSTED' },
  maxPipelinedCalls: { env: 'STICKLESS_MAX_PIPELINED_CALLS', help: 'calls one Pipeline stream may have in flight (running, or answered and unread); a call beyond it is refused with SESS_ERR_LIMIT_EXCEEDED, and a client leaving that many answers unread loses the stream' },
  replicaAcks: { env: 'STICKLESS_REPLICA_ACKS', help: 'replicas that must confirm each write (Redis WAIT); 0: none' },
  replicaAckTimeoutMs: { env: 'STICKLESS_REPLICA_ACK_TIMEOUT_MS', help: 'ms a write waits for replica confirmations' },
  commandTimeoutMs: { env: 'STICKLESS_COMMAND_TIMEOUT_MS', help: 'ms without an answer after which a Redis command fails: a read with SESS_ERR_STORE_UNAVAILABLE, a mutation with SESS_ERR_OUTCOME_UNKNOWN' },
  connectTimeoutMs: { env: 'STICKLESS_CONNECT_TIMEOUT_MS', help: 'ms TCP connect timeout towards Redis' },
  shutdownGraceMs: { env: 'STICKLESS_SHUTDOWN_GRACE_MS', help: 'ms in-flight calls may take after SIGTERM before they are cancelled' },
  namespaceTokens: { env: 'STICKLESS_NAMESPACE_TOKENS', help: 'JSON {"<token>": ["<namespace>" or "*"]}; empty: no authentication', sensitive: true },
  logLevel: { env: 'STICKLESS_LOG_LEVEL', help: 'pino level: fatal error warn info debug trace silent' },
  reflection: { env: 'STICKLESS_REFLECTION', help: 'gRPC server reflection (grpcurl, Postman, evans list the services): true or false' },
});

/** Environment variable of each option. */
export const SERVER_ENV_VARS: Readonly<Record<keyof ServerConfig, string>> = Object.freeze(
  Object.fromEntries(Object.entries(SERVER_OPTIONS).map(([option, info]) => [option, info.env])) as Record<keyof ServerConfig, string>,
);

/** Options whose values are secrets: redacted wherever config is shown. */
export const SENSITIVE_SERVER_OPTIONS: ReadonlySet<keyof ServerConfig> = new Set(
  (Object.keys(SERVER_OPTIONS) as Array<keyof ServerConfig>).filter((option) => SERVER_OPTIONS[option].sensitive && option !== 'redisUrl'),
);

/** One problem with one option; `option` is the option's name, or a file key or flag nobody knows. */
export interface ConfigProblem {
  option: string;
  message: string;
}

/** SESS_ERR_CONFIG_INVALID with each problem kept apart, so a caller can name options as the user wrote them. */
export class ServerConfigError extends SessionError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super('SESS_ERR_CONFIG_INVALID', `invalid configuration:\n${problems.map((p) => `  ${p.option}: ${p.message}`).join('\n')}`);
    this.problems = problems;
  }
}

/**
 * Validates layered raw values (later layers win: defaults, file, environment, flags) and returns a
 * frozen config. Throws ServerConfigError (SESS_ERR_CONFIG_INVALID) listing every problem.
 */
export function parseServerConfig(...layers: Array<Record<string, unknown>>): Readonly<ServerConfig> {
  const merged: Record<string, unknown> = { ...DEFAULT_SERVER_OPTIONS };
  for (const layer of layers) for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  const result = serverConfigSchema.safeParse(merged);
  if (!result.success) {
    throw new ServerConfigError(result.error.issues.flatMap((issue): ConfigProblem[] => {
      if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ option: key, message: 'unknown option' }));
      const option = String(issue.path[0] ?? '(root)');
      // A secret's value never appears, nor the path inside it (a token is a key of namespaceTokens).
      const secret = SERVER_OPTIONS[option as keyof ServerConfig]?.sensitive === true;
      const message = (issue as { issues?: Array<{ message: string }> }).issues?.[0]?.message ?? issue.message;
      const at = !secret && issue.path.length > 1 ? ` (at ${issue.path.slice(1).join('.')})` : '';
      const shown = secret || typeof merged[option] === 'object' ? '' : `, got ${JSON.stringify(merged[option])}`;
      return [{ option, message: `${message}${at}${shown}` }];
    }));
  }
  const config = result.data;
  const problems: ConfigProblem[] = [];
  const problem = (option: keyof ServerConfig, message: string): number => problems.push({ option, message });
  if (config.defaultTtlMs > config.maxLifetimeMs) problem('defaultTtlMs', `${config.defaultTtlMs} exceeds maxLifetimeMs (${config.maxLifetimeMs})`);
  if (config.maxFieldBytes > config.maxSessionBytes) problem('maxFieldBytes', `${config.maxFieldBytes} exceeds maxSessionBytes (${config.maxSessionBytes})`);
  if (config.replicaAcks > 0 && config.replicaAckTimeoutMs >= config.commandTimeoutMs) {
    problem('replicaAckTimeoutMs', `${config.replicaAckTimeoutMs} must be below commandTimeoutMs (${config.commandTimeoutMs})`);
  }
  if (config.redisClusterNodes.length > 0 && config.redisSentinels.length > 0) problem('redisClusterNodes', 'a Redis Cluster and Sentinel exclude each other: set redisClusterNodes or redisSentinels');
  if (config.redisClusterNodes.length > 0 && config.readFromReplicas) problem('readFromReplicas', 'not supported on a Redis Cluster yet: reads go to the masters');
  if (Object.keys(config.redisClusterNatMap).length > 0 && config.redisClusterNodes.length === 0) problem('redisClusterNatMap', 'applies to a Redis Cluster only: set redisClusterNodes too');
  if (config.readFromReplicas && config.store === 'redis' && config.redisClusterNodes.length === 0 && config.redisSentinels.length === 0 && config.redisReplicaUrls.length === 0) {
    problem('readFromReplicas', 'needs replicas to read from: set redisReplicaUrls, or redisSentinels (Sentinel names the replicas)');
  }
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    problem(config.tlsCertFile === undefined ? 'tlsKeyFile' : 'tlsCertFile', 'tlsCertFile and tlsKeyFile go together: set both or neither');
  }
  if (config.tlsCaFile !== undefined && config.tlsCertFile === undefined) problem('tlsCaFile', 'client certificates need TLS: set tlsCertFile and tlsKeyFile too');
  if ((config.redisTlsCertFile === undefined) !== (config.redisTlsKeyFile === undefined)) {
    problem(config.redisTlsCertFile === undefined ? 'redisTlsKeyFile' : 'redisTlsCertFile', 'redisTlsCertFile and redisTlsKeyFile go together: set both or neither');
  }
  const url = URL.parse(config.redisUrl);
  if (config.redisUsername !== undefined && url?.username) problem('redisUsername', 'redisUrl names a user too: give it in one place');
  if (config.redisPassword !== undefined && url?.password) problem('redisPassword', 'redisUrl carries a password too: give it in one place');
  for (const option of ['redisTlsCaFile', 'redisTlsCertFile'] as const) {
    if (config[option] !== undefined && !config.redisUrl.startsWith('rediss://')) problem(option, 'needs a rediss:// redisUrl (TLS towards Redis)');
  }
  if (problems.length > 0) throw new ServerConfigError(problems);
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
