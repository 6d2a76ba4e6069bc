// A bound on what a server stream queues for a client that does not read it. grpc-js hands one
// message at a time to HTTP/2, which stops once the client's flow-control window is full: from then
// on every write waits in the stream's buffer (`writableLength`, in messages). Without a bound, one
// client that stops reading its Track or Watch stream while its sessions keep changing grows
// sessiond's memory without end. Past the bound the stream ends with RESOURCE_EXHAUSTED; for Track
// that is a broken stream, after which the client resynchronises (docs/protocol.md).
import type { Writable } from 'node:stream';
import { SessionError } from '../proto/errors.ts';

/**
 * The error that ends `stream` when `limit` messages or more wait unread in it, else undefined.
 * `what` names the stream; `allowance()` says what the limit is made of (built only for the error).
 */
export function backlogExceeded(stream: Writable, limit: number, what: string, allowance: () => string): SessionError | undefined {
  const queued = stream.writableLength;
  if (queued < limit) return undefined;
  return new SessionError(
    'SESS_ERR_LIMIT_EXCEEDED',
    `${what}: ${queued} events wait unread by the client, the most allowed (${allowance()}); the stream ends, read it faster or hold fewer sessions`,
  );
}
