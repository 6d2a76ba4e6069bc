// A Watch stream as an async iterator: the call starts on the first `next()` and is cancelled when the
// iterator ends for any reason (terminal event, `break`/`return`, error, abort signal).
import type * as grpc from '@grpc/grpc-js';
import type { WatchEvent__Output } from '../proto/index.ts';
import { toSessionError } from './errors.ts';

/** One change to a watched session (session.proto WatchEvent). */
export interface WatchEvent {
  /**
   * `SNAPSHOT`: the state when the watch started (first event only). `UPDATED`: the session changed.
   * `DELETED`: deleted, revoked or regenerated away from this id (also the first and only event when
   * the session did not exist). `EXPIRED`: it expired. `DELETED` and `EXPIRED` end the iteration.
   */
  kind: 'SNAPSHOT' | 'UPDATED' | 'DELETED' | 'EXPIRED';
  /**
   * The version after the change (for `DELETED`/`EXPIRED`: the last one seen). Strictly increasing;
   * a jump of more than 1 means changes were missed: `get()` to resynchronise.
   */
  version: number;
  /** Names of the changed fields (`UPDATED`), or of all fields (`SNAPSHOT`). */
  fields: string[];
  /** Expiry after the change, epoch ms. */
  expiresAtMs: number;
}

/** Options of `SessionClient.watch()`. */
export interface WatchOptions {
  /** Aborting cancels the stream; a pending `next()` then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

export async function* readWatchEvents(
  start: () => grpc.ClientReadableStream<WatchEvent__Output>,
  signal: AbortSignal | undefined,
  clientClosed: () => boolean,
): AsyncGenerator<WatchEvent, void, undefined> {
  signal?.throwIfAborted();
  const call = start();
  // After a cancel grpc-js emits 'error' (CANCELLED) on the stream; nobody may be listening by then.
  call.on('error', () => {});
  const onAbort = (): void => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const raw of call as AsyncIterable<WatchEvent__Output>) {
      const event: WatchEvent = { kind: toKind(raw.kind), version: raw.version, fields: raw.fields, expiresAtMs: raw.expiresAtMs };
      yield event;
      if (event.kind === 'DELETED' || event.kind === 'EXPIRED') return;
    }
  } catch (error) {
    signal?.throwIfAborted();
    // Closing the client ends its watches the way the server ending a stream would.
    if (clientClosed()) return;
    throw toSessionError(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

function toKind(kind: WatchEvent__Output['kind']): WatchEvent['kind'] {
  // KIND_UNSPECIFIED is never sent; treating it as a change keeps the caller re-reading, not stuck.
  return kind === 'KIND_UNSPECIFIED' ? 'UPDATED' : kind;
}
