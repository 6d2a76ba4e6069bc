// Shared set-up of the client tests: one Redis per test file, one real sessiond per test, clients
// closed in teardown, a fresh namespace per test, and a recorder for the client's diagnostics.
import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createServer as createHttp2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Server as NetServer } from 'node:net';
import type { ExecutionContext } from 'ava';
import { SessionClient, type SessionClientInit } from '../../client/index.ts';
import { startSessiond, type StartSessiondOptions, type StartedSessiond } from '../helpers/servers.ts';

export const namespace = (): string => `ns-${randomUUID()}`;

/**
 * Deadline of a test client unless the test sets its own: the library's 2 s default is an answer a
 * busy machine (two suites at once on 2 cores) can miss, which would fail tests about other things.
 * Tests about deadlines pass `deadlineMs` themselves.
 */
const TEST_DEADLINE_MS = 30_000;

/** A client closed (destroyed) in teardown. */
export function connect(t: ExecutionContext, init: SessionClientInit): SessionClient {
  const client = new SessionClient({ deadlineMs: TEST_DEADLINE_MS, ...init });
  t.teardown(() => client.destroy());
  return client;
}

export async function setup(
  t: ExecutionContext,
  options: StartSessiondOptions = {},
  init: Partial<SessionClientInit> = {},
): Promise<{ sessiond: StartedSessiond; client: SessionClient; ns: string }> {
  const sessiond = await startSessiond(t, options);
  const ns = namespace();
  return { sessiond, client: connect(t, { address: sessiond.address, namespace: ns, ...init }), ns };
}

/** Collects the messages published on `channel` for one namespace until teardown. */
export function record<T extends { namespace: string }>(t: ExecutionContext, channel: string, ns: string): T[] {
  const seen: T[] = [];
  const onMessage = (message: unknown): void => {
    if ((message as T).namespace === ns) seen.push(message as T);
  };
  diagnosticsChannel.subscribe(channel, onMessage);
  t.teardown(() => diagnosticsChannel.unsubscribe(channel, onMessage));
  return seen;
}

/** An HTTP/2 server that speaks just enough gRPC to fail in one chosen way. */
export async function fakeSessiond(t: ExecutionContext, behave: (stream: ServerHttp2Stream) => void): Promise<string> {
  const sessions = new Set<Http2Session>();
  const server = createHttp2Server();
  server.on('session', (session) => sessions.add(session));
  server.on('stream', behave);
  return listenOnLoopback(t, server, sessions);
}

/** Listens on a free loopback port until the test's teardown, which destroys `connections` and closes it; its address. */
export async function listenOnLoopback(t: ExecutionContext, server: NetServer, connections: ReadonlySet<{ destroy(): void }>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const connection of connections) connection.destroy();
    server.close();
  });
  const address = server.address();
  return `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}
