// The contract shared by server and client: the loaded service definition, its generated types and
// the error model. Nothing else is shared between the two.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './generated/session.ts';

export * from './errors.ts';
export { checkMsgpackValue, MAX_VALUE_DEPTH, TIMESTAMP_EXTENSION_TYPE } from './msgpack-value.ts';
export type * from './generated/stickless/session/v1/SessionService.ts';
export type { Session, Session__Output } from './generated/stickless/session/v1/Session.ts';
export type { FieldOp, FieldOp__Output } from './generated/stickless/session/v1/FieldOp.ts';
export type { WatchEvent, WatchEvent__Output } from './generated/stickless/session/v1/WatchEvent.ts';
export type { SessionSummary__Output } from './generated/stickless/session/v1/SessionSummary.ts';
export type { MutationOptions } from './generated/stickless/session/v1/MutationOptions.ts';

/** Path of the `.proto` file, for tools that want to read it. */
export const SESSION_PROTO_PATH = fileURLToPath(new URL('./stickless/session/v1/session.proto', import.meta.url));

/**
 * Loader options. They must match the flags of `npm run proto:gen` (see package.json), or the
 * generated types would describe different JavaScript values than the ones on the wire.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  keepCase: false,
});

const packageDefinition = protoLoader.loadSync(SESSION_PROTO_PATH, PROTO_LOADER_OPTIONS);
const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

/** The `stickless.session.v1.SessionService` definition, for `server.addService` and client stubs. */
export const sessionServiceDefinition = loaded.stickless.session.v1.SessionService.service;

/** Client constructor for `stickless.session.v1.SessionService`. */
export const SessionServiceClientConstructor = loaded.stickless.session.v1.SessionService;
