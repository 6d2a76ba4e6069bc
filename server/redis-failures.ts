// What a failed Redis command means for the caller, in our own words. ioredis reports failures in its
// own wording ("Stream isn't writeable and enableOfflineQueue options is false", "Reached the max
// retries per request limit"); none of it reaches a message: each failure becomes one SessionError
// that says where Redis is, what went wrong, and whether the command can have changed anything.
// The ioredis error stays reachable as `cause` (and in sessiond's log), never in the message.
import { SessionError } from '../proto/errors.ts';
import type { RedisConnectionOptions } from './redis-connection.ts';

export interface FailureContext {
  /** Where Redis is, as `describeRedisAddress` says it. */
  address: string;
  /** True for a command that may change data (a mutation script): "sent, no answer" is then OUTCOME_UNKNOWN. */
  write: boolean;
  /** The connection's command timeout, for the wording of a timeout. */
  commandTimeoutMs: number;
  /** Why the connection is down, when it is (`describeRedisError` of its last error). */
  connectionReason: string;
}

const NOT_SENT = "Stream isn't writeable";
const TIMED_OUT = 'Command timed out';
const CONNECTION_CLOSED = 'Connection is closed.';
/** Where ioredis' Cluster picks the node for a command: an error raised there was never sent. */
const CLUSTER_ROUTING_FRAME = /\n\s+at tryConnection \([^)\n]*ioredis[\\/]built[\\/]cluster[\\/]/;

/** Redis error replies that refuse a command before it runs: transient, nothing was applied. */
const REFUSALS: Readonly<Record<string, string>> = {
  READONLY: 'is a read-only replica (a failover may be under way)',
  LOADING: 'is loading its data set',
  MASTERDOWN: 'is a replica that lost its primary',
  BUSY: 'is busy running a script',
  TRYAGAIN: 'asked to try again',
  CLUSTERDOWN: 'reports its cluster down',
  NOAUTH: 'refused sessiond: authentication failed (check the password or ACL user)',
  WRONGPASS: 'refused sessiond: authentication failed (check the password or ACL user)',
  NOPERM: "refused sessiond: the ACL user lacks a permission sessiond needs",
};

/** True when `error` is ioredis' command timeout (the command was sent and no answer came). */
export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === TIMED_OUT;
}

/** True when `error` says the command was never written (not connected, no offline queue). */
export function isNotSent(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith(NOT_SENT);
}

/**
 * True when ioredis' Cluster refused to send a command because the connection to its slot's node is
 * not up (yet): after a MOVED to a node it had no connection to, the new connection is still coming
 * up. It says so in the same words as a connection lost with the command in flight ("Connection is
 * closed."), so only where the error was raised tells them apart: the Cluster's routing, before any
 * write. Should ioredis move that code, this answers false and the failure stays "maybe applied".
 */
export function isClusterNodeNotReady(error: unknown): boolean {
  return error instanceof Error && error.message === CONNECTION_CLOSED && CLUSTER_ROUTING_FRAME.test(error.stack ?? '');
}

/**
 * Maps what an ioredis command rejected with to the SessionError a caller gets:
 * - not sent (not connected, or a Cluster node's connection not up) or refused by Redis before
 *   running: SESS_ERR_STORE_UNAVAILABLE, nothing applied;
 * - NOREPLICAS (Redis' own min-replicas-to-write): SESS_ERR_NOT_ENOUGH_REPLICAS, nothing applied;
 * - sent and no answer (timeout, connection lost in flight): SESS_ERR_OUTCOME_UNKNOWN for a write,
 *   SESS_ERR_STORE_UNAVAILABLE for a read (repeating a read changes nothing);
 * - any other error reply: SESS_ERR_INTERNAL (a bug on our side or an unexpected Redis).
 */
export function toStoreError(error: unknown, context: FailureContext): SessionError {
  const { address, write } = context;
  const cause = { cause: error };
  if (isNotSent(error)) {
    return new SessionError('SESS_ERR_STORE_UNAVAILABLE', `Redis at ${address} is unreachable (${context.connectionReason}); nothing was applied`, cause);
  }
  if (isClusterNodeNotReady(error)) {
    return new SessionError('SESS_ERR_STORE_UNAVAILABLE', `Redis at ${address}: the connection to the node that holds this session is not up; nothing was applied`, cause);
  }
  if (error instanceof Error && error.name === 'ReplyError') {
    const prefix = error.message.split(' ', 1)[0]!;
    if (prefix === 'NOREPLICAS') {
      return new SessionError('SESS_ERR_NOT_ENOUGH_REPLICAS', `Redis at ${address} refused the write: it has fewer connected replicas than its min-replicas-to-write; nothing was applied`, cause);
    }
    const refusal = REFUSALS[prefix];
    if (refusal) return new SessionError('SESS_ERR_STORE_UNAVAILABLE', `Redis at ${address} ${refusal}; nothing was applied`, cause);
    return new SessionError('SESS_ERR_INTERNAL', `Redis at ${address} answered with an unexpected error (${prefix}); see the sessiond log`, cause);
  }
  // ioredis gave up following a Cluster's redirections and refusals: each one ran nothing.
  const redirected = error instanceof Error ? /^Too many Cluster redirections\. Last error: (?:ReplyError: )?([A-Z]+)/.exec(error.message) : null;
  if (redirected && (REFUSALS[redirected[1]!] || redirected[1] === 'MOVED' || redirected[1] === 'ASK')) {
    return new SessionError('SESS_ERR_STORE_UNAVAILABLE', `Redis at ${address} kept refusing the command (${redirected[1]}) until sessiond gave up; nothing was applied`, cause);
  }
  const what = isCommandTimeout(error)
    ? `Redis at ${address} did not answer within ${context.commandTimeoutMs} ms`
    : `the connection to Redis at ${address} was lost before the answer came`;
  if (write) {
    return new SessionError('SESS_ERR_OUTCOME_UNKNOWN', `${what}: the write may or may not have been applied; retry it with the same idempotency key to find out`, cause);
  }
  return new SessionError('SESS_ERR_STORE_UNAVAILABLE', `${what}; nothing was changed`, cause);
}

/** A connection error in words, for logs and messages: never ioredis' own sentence. */
export function describeRedisError(error: unknown, commandTimeoutMs: number): string {
  const { code, name, message = '' } = (error ?? {}) as { code?: unknown; name?: string; message?: string };
  switch (code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host name not found';
    case 'ECONNRESET': return 'connection reset';
    case 'EPIPE': return 'connection closed by the server';
    case 'EHOSTUNREACH': return 'host unreachable';
    case 'ENETUNREACH': return 'network unreachable';
  }
  if (name === 'ReplyError') {
    const prefix = message.split(' ', 1)[0]!;
    return REFUSALS[prefix] ? `Redis ${REFUSALS[prefix]}` : `Redis answered an error (${prefix})`;
  }
  if (message === TIMED_OUT) return `no answer within ${commandTimeoutMs} ms`;
  if (name === 'MasterNotConnectedError') return message;
  if (message.startsWith('All sentinels are unreachable')) return 'no sentinel answered';
  if (typeof code === 'string' && /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_)/.test(code)) return `TLS handshake failed (${code})`;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return `connection failed (${code})`;
  return 'connection failed';
}

/** Where Redis is, for logs and messages: `host:port`, or the Sentinel primary's name; never a password. */
export function describeRedisAddress(options: Pick<RedisConnectionOptions, 'url' | 'sentinels' | 'sentinelName' | 'clusterNodes'>): string {
  if (options.clusterNodes?.length) return `cluster via ${options.clusterNodes.join(', ')}`;
  if (options.sentinels.length > 0) return `primary "${options.sentinelName}" via sentinels ${options.sentinels.join(', ')}`;
  try {
    const url = new URL(options.url);
    return `${url.hostname}:${url.port || '6379'}`;
  } catch {
    return 'the configured redisUrl';
  }
}
