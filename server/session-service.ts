// RPC handlers: validate the request, call the SessionStore, shape the reply. Knows nothing about
// Redis; every failure leaves through toGrpcStatus().
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SessionServiceHandlers } from '../proto/generated/stickless/session/v1/SessionService.ts';
import type { Session } from '../proto/generated/stickless/session/v1/Session.ts';
import { SessionError } from '../proto/errors.ts';
import { toGrpcStatus } from './errors.ts';
import { withRpcLogContext } from './logger.ts';
import {
  parseFields, parseMutationOptions, parseOps, requireExpectedVersion, requireFieldName, requireId,
  requireIdempotencyKey, requireNamespace, requireOwner, requireTtl, type RequestLimits,
} from './request-validation.ts';
import { generateSessionId } from './session-id.ts';
import type { SessionRecord, SessionStore } from './session-store.ts';
import type { ServerMetrics } from './metrics.ts';
import { WatchRegistry } from './session-watch.ts';
import { TrackRegistry } from './session-track.ts';
import { PipelineRegistry, type CallHandler, type SessionCalls } from './session-pipeline.ts';

export interface SessionServiceOptions extends RequestLimits {
  defaultTtlMs: number;
  /** Bearer token -> namespaces ('*' for all). Empty: no authentication. */
  namespaceTokens: Readonly<Record<string, readonly string[]>>;
  /** Ids one Track stream may hold at once. */
  maxTrackedIds: number;
  /** Events one Track or Watch stream may queue for a client that does not read them (Track: beyond one per held id). */
  maxQueuedEvents: number;
  /** Calls one Pipeline stream may have in flight at once. */
  maxPipelinedCalls: number;
}

export interface SessionService {
  handlers: SessionServiceHandlers;
  /**
   * Ends every open Watch and Track stream, and every Pipeline stream once its calls in flight are
   * answered (at shutdown, so a graceful stop does not wait for them).
   */
  endWatches(): void;
}

export function createSessionService(store: SessionStore, options: SessionServiceOptions, logger: Logger, metrics?: ServerMetrics): SessionService {
  const watches = new WatchRegistry(store, options.maxQueuedEvents, metrics);
  const authorize = createAuthorizer(options.namespaceTokens);
  const tracks = new TrackRegistry(store, { maxTrackedIds: options.maxTrackedIds, maxQueuedEvents: options.maxQueuedEvents, authorize }, metrics);

  // The one place a call's outcome is counted and logged, whichever transport carried it.
  function settle<Res>(method: string, run: () => Promise<Res>): Promise<Res> {
    const started = performance.now();
    const done = (code: string): void => metrics?.observeCall(method, code, (performance.now() - started) / 1000);
    return run().then(
      (reply) => {
        done('OK');
        return reply;
      },
      (error: unknown) => {
        done(error instanceof SessionError ? error.code : 'SESS_ERR_INTERNAL');
        if (!(error instanceof SessionError) || error.code === 'SESS_ERR_INTERNAL') logger.error({ method, err: error }, 'rpc failed');
        else logger.debug({ method, code: error.code }, 'rpc rejected');
        throw error;
      },
    );
  }

  // Wraps a call into grpc-js's unary callback style; the single error exit of unary calls.
  function unary<Req, Res>(method: string, call: CallHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (serverCall, callback) => withRpcLogContext(serverCall.metadata, () => {
      settle(method, () => call(serverCall.request, serverCall.metadata)).then(
        (reply) => callback(null, reply),
        (error: unknown) => callback(toGrpcStatus(error)),
      );
    });
  }

  function namespaceOf(request: { namespace: string }, metadata: grpc.Metadata): string {
    const namespace = requireNamespace(request.namespace);
    authorize(namespace, metadata);
    return namespace;
  }

  // The per-session calls, shared by their unary methods and the Pipeline stream.
  const calls: SessionCalls = {
    Create: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const ttlMs = requireTtl(request.ttlMs, 'ttl_ms') || options.defaultTtlMs;
      const result = await store.create({
        namespace,
        id: request.id === '' ? generateSessionId() : requireId(request.id),
        fields: parseFields(request.fields, options),
        ttlMs: Math.min(ttlMs, options.maxLifetimeMs),
        owner: requireOwner(request.owner),
        idempotencyKey: requireIdempotencyKey(request.idempotencyKey),
      });
      return { session: toProtoSession(result.record), replayed: result.replayed };
    },

    Get: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const fields = request.fields.map((name, i) => requireFieldName(name, `fields[${i}]`));
      const minVersion = requireMinVersion(request.minVersion);
      const record = await store.get(namespace, requireId(request.id), { fields, slide: request.slide, minVersion });
      if (record && record.version < minVersion) {
        throw new SessionError(
          'SESS_ERR_VERSION_BEHIND',
          `min_version ${minVersion} is above the stored version ${record.version}: the store lost writes this caller saw (a Redis failover without replicaAcks); the older copy is not returned`,
          { currentVersion: record.version },
        );
      }
      return record ? { found: true, session: toProtoSession(record) } : { found: false };
    },

    Put: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const result = await store.put(namespace, requireId(request.id), parseFields(request.fields, options), parseMutationOptions(request.options));
      return { session: toProtoSession(result.record), replayed: result.replayed };
    },

    Patch: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const result = await store.patch(namespace, requireId(request.id), parseOps(request.ops, options), parseMutationOptions(request.options));
      return { session: toProtoSession(result.record), replayed: result.replayed };
    },

    Delete: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const expectedVersion = requireExpectedVersion(request.expectedVersion, 'expected_version');
      return { deleted: await store.delete(namespace, requireId(request.id), { expectedVersion }) };
    },

    Touch: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const ttlMs = Math.min(requireTtl(request.ttlMs, 'ttl_ms'), options.maxLifetimeMs);
      const result = await store.touch(namespace, requireId(request.id), ttlMs);
      return result ? { found: true, version: result.version, expiresAtMs: result.expiresAtMs } : { found: false };
    },

    Regenerate: async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const mutation = parseMutationOptions(request.options);
      const result = await store.regenerate(namespace, requireId(request.id), generateSessionId(), {
        ...mutation,
        owner: requireOwner(request.owner),
      });
      return { session: toProtoSession(result.record), replayed: result.replayed };
    },
  };
  const pipelines = new PipelineRegistry(calls, { maxPipelinedCalls: options.maxPipelinedCalls, settle }, metrics);

  const handlers: SessionServiceHandlers = {
    Create: unary('Create', calls.Create),
    Get: unary('Get', calls.Get),
    Put: unary('Put', calls.Put),
    Patch: unary('Patch', calls.Patch),
    Delete: unary('Delete', calls.Delete),
    Touch: unary('Touch', calls.Touch),
    Regenerate: unary('Regenerate', calls.Regenerate),

    ListByOwner: unary('ListByOwner', async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const owner = requireNonEmptyOwner(request.owner);
      return { sessions: await store.listByOwner(namespace, owner) };
    }),

    RevokeByOwner: unary('RevokeByOwner', async (request, metadata) => {
      const namespace = namespaceOf(request, metadata);
      const owner = requireNonEmptyOwner(request.owner);
      request.handles.forEach((handle, i) => {
        if (!/^[A-Za-z0-9_-]{43}$/.test(handle)) throw new SessionError('SESS_ERR_INVALID_ARGUMENT', `handles[${i}]: expected a handle from ListByOwner`);
      });
      return { revoked: await store.revokeByOwner(namespace, owner, request.handles) };
    }),

    Watch: (call) => withRpcLogContext(call.metadata, () => {
      try {
        const namespace = namespaceOf(call.request, call.metadata);
        watches.start(namespace, requireId(call.request.id), call);
      } catch (error) {
        call.emit('error', toGrpcStatus(error));
      }
    }),

    // Namespaces are authorized per message (each names its own); see session-track.ts.
    Track: (call) => withRpcLogContext(call.metadata, () => tracks.start(call)),

    // One stream carrying the calls above; each call is authorized and logged on its own (session-pipeline.ts).
    Pipeline: (call) => pipelines.start(call),
  };

  return {
    handlers,
    endWatches: () => {
      watches.endAll();
      tracks.endAll();
      pipelines.endAll();
    },
  };
}

function requireMinVersion(version: number): number {
  if (!Number.isSafeInteger(version) || version < 0) throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'min_version: expected a non-negative integer below 2^53');
  return version;
}

function requireNonEmptyOwner(owner: string): string {
  if (owner === '') throw new SessionError('SESS_ERR_INVALID_ARGUMENT', 'owner: required');
  return requireOwner(owner);
}

/** Returns a check that throws UNAUTHENTICATED / PERMISSION_DENIED; a no-op without tokens. */
function createAuthorizer(tokens: Readonly<Record<string, readonly string[]>>): (namespace: string, metadata: grpc.Metadata) => void {
  if (Object.keys(tokens).length === 0) return () => {};
  const grants = new Map(Object.entries(tokens).map(([token, namespaces]) => [token, new Set(namespaces)]));
  return (namespace, metadata) => {
    const header = metadata.get('authorization')[0];
    // The scheme is case-insensitive and followed by one or more spaces (RFC 9110 §11.1, §11.4).
    const token = typeof header === 'string' ? /^bearer +(.+)$/i.exec(header)?.[1] : undefined;
    const granted = token === undefined ? undefined : grants.get(token);
    if (!token) throw new SessionError('SESS_ERR_UNAUTHENTICATED', 'authorization: expected "Bearer <namespace token>"');
    if (!granted || !(granted.has('*') || granted.has(namespace))) {
      throw new SessionError('SESS_ERR_PERMISSION_DENIED', `the token does not grant namespace "${namespace}"`);
    }
  };
}

export function toProtoSession(record: SessionRecord): Session {
  const fields: Record<string, Buffer> = Object.create(null);
  for (const [name, value] of record.fields) fields[name] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return {
    id: record.id,
    namespace: record.namespace,
    version: record.version,
    fields,
    createdAtMs: record.createdAtMs,
    updatedAtMs: record.updatedAtMs,
    expiresAtMs: record.expiresAtMs,
    owner: record.owner,
  };
}
