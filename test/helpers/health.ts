// A grpc.health.v1 client for tests: Check one service name with a short deadline.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ExecutionContext } from 'ava';
import { protoPath as healthProtoPath } from 'grpc-health-check';

export type HealthClient = grpc.Client & {
  Check(request: { service: string }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): void;
};

export function healthClient(t: ExecutionContext, address: string): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  return client;
}

/** The status of `service` ('' for the whole server), e.g. 'SERVING' or 'NOT_SERVING'. */
export function checkHealth(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + 10_000 }, (error, reply) => (error ? reject(error) : resolve(reply!.status)));
  });
}
