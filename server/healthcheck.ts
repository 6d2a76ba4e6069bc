// A grpc.health.v1 probe for container healthchecks: exits 0 when sessiond reports SERVING.
//   node server/healthcheck.ts [host:port]     (default 127.0.0.1:50051, or STICKLESS_LISTEN's port)
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

const listenPort = process.env.STICKLESS_LISTEN?.split(':').pop();
const address = process.argv[2] ?? `127.0.0.1:${listenPort ?? 50051}`;
const definition = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & {
    Check(request: { service: string }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): void;
  } } } };
};
const client = new definition.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
client.Check({ service: '' }, { deadline: Date.now() + 2000 }, (error, reply) => {
  const status = error ? `error: ${error.details}` : reply?.status;
  process.stdout.write(`${address}: ${status}\n`);
  client.close();
  process.exit(status === 'SERVING' ? 0 : 1);
});
