// gRPC server reflection (grpc.reflection.v1 and v1alpha) of what sessiond serves: the session
// service and the standard health service. grpcurl, Postman and evans list and call them against a
// running sessiond without a copy of the .proto files. Server-only: the client never imports this.
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import { PROTO_LOADER_OPTIONS, SESSION_PROTO_PATH } from './index.ts';

/** Adds the reflection services to `server`, describing SessionService and grpc.health.v1.Health. */
export function addReflectionService(server: grpc.Server): void {
  const definition = protoLoader.loadSync([SESSION_PROTO_PATH, HEALTH_PROTO_PATH], PROTO_LOADER_OPTIONS);
  new ReflectionService(definition).addToServer(server);
}
