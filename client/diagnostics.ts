// The client never logs. It publishes what a caller may want to count on diagnostics_channel, and
// traces through `NODE_DEBUG=stickless-client`. Session ids are secrets: neither carries them.
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';
import type { SessionErrorCode } from '../proto/errors.ts';

/** Published before each retry of a unary call (`diagnostics_channel.subscribe(name, fn)`). */
export interface RetryMessage {
  /** The client method, e.g. `get`. */
  method: string;
  /** The attempt that failed (1 for the first). */
  attempt: number;
  /**
   * Why it failed: `SESS_ERR_SERVICE_UNAVAILABLE`, `SESS_ERR_STORE_UNAVAILABLE` or
   * `SESS_ERR_NOT_ENOUGH_REPLICAS` (nothing applied), or, for calls safe to repeat,
   * `SESS_ERR_OUTCOME_UNKNOWN` or `SESS_ERR_REPLICA_ACK_TIMEOUT`.
   */
  code: SessionErrorCode;
  /** The jittered backoff before the next attempt. */
  delayMs: number;
  namespace: string;
  address: string;
}

/** Published when an `update()` round lost a race and will read again. */
export interface ConflictMessage {
  method: 'update';
  /** The round that conflicted (1 for the first). */
  attempt: number;
  /** The version the round read. */
  expectedVersion: number;
  /** The version the server reported, when it did. */
  currentVersion: number | undefined;
  namespace: string;
  address: string;
}

/** Channel names, for subscribers. */
export const CLIENT_CHANNELS = Object.freeze({
  retry: 'stickless:client:retry',
  conflict: 'stickless:client:conflict',
});

export const retryChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.retry);
export const conflictChannel = diagnosticsChannel.channel(CLIENT_CHANNELS.conflict);

export const debug = debuglog('stickless-client');
