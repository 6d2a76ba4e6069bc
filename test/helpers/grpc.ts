// A raw generated stub with promise wrappers, so server tests speak the wire contract directly
// (the client library has its own tests).
import * as grpc from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import { pack, unpack } from 'msgpackr';
import { SessionServiceClientConstructor } from '../../proto/index.ts';
import type { SessionServiceClient } from '../../proto/generated/stickless/session/v1/SessionService.ts';

export type RawStub = SessionServiceClient;

export function rawStub(t: ExecutionContext, address: string): RawStub {
  const stub = new SessionServiceClientConstructor(address, grpc.credentials.createInsecure());
  t.teardown(() => stub.close());
  return stub;
}

/**
 * Calls a unary method with a deadline; resolves the reply or rejects with the ServiceError. The
 * default deadline is generous (a busy machine answers late, and a test about deadlines passes
 * its own); it stays well inside ava's 60 s timeout.
 */
export function call<Req, Res>(
  stub: RawStub,
  method: keyof RawStub,
  request: Req,
  options: { deadlineMs?: number; metadata?: grpc.Metadata } = {},
): Promise<Res> {
  const fn = stub[method] as unknown as (
    req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void,
  ) => void;
  return new Promise((resolve, reject) => {
    fn.call(stub, request, options.metadata ?? new grpc.Metadata(), { deadline: Date.now() + (options.deadlineMs ?? 20_000) }, (error, reply) =>
      error ? reject(error) : resolve(reply as Res),
    );
  });
}

/** The stable code a failed call carried in its trailers. */
export function errorCode(error: unknown): string | undefined {
  const metadata = (error as grpc.ServiceError).metadata;
  return metadata?.get('stickless-error-code')[0]?.toString();
}

export const enc = (value: unknown): Buffer => pack(value);
export const dec = (bytes: Uint8Array | undefined): unknown => (bytes === undefined ? undefined : unpack(bytes));
