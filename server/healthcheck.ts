// A grpc.health.v1 probe for container healthchecks: exits 0 when sessiond reports SERVING, 1 when
// it does not (or does not answer within --timeout-ms, default 2000), 2 on bad usage.
//   node server/healthcheck.ts [host:port] [--timeout-ms 2000] [--tls] [--tls-ca-file ca.pem]
//                              [--tls-cert-file client.pem --tls-key-file client.key] [--tls-server-name name]
// The address defaults to 127.0.0.1 and STICKLESS_LISTEN's port (else 50051). TLS is used when any
// --tls* flag is given or, run beside sessiond, when STICKLESS_TLS_CERT_FILE is set; each flag also
// reads STICKLESS_HEALTHCHECK_TLS_CA_FILE, ..._CERT_FILE, ..._KEY_FILE, ..._SERVER_NAME.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

function usage(message: string): never {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(2);
}

interface ProbeOptions {
  address: string;
  timeoutMs: number;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
}

function readProbeOptions(): ProbeOptions {
  let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: 'string' | 'boolean' }>; allowPositionals: true }>>;
  try {
    parsed = parseArgs({
      options: { 'timeout-ms': { type: 'string' }, 'tls': { type: 'boolean' }, 'tls-ca-file': { type: 'string' }, 'tls-cert-file': { type: 'string' }, 'tls-key-file': { type: 'string' }, 'tls-server-name': { type: 'string' } },
      allowPositionals: true,
    });
  } catch (error) {
    usage((error as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  const env = process.env;
  const flag = (name: string, variable: string): string | undefined => (values[name] as string | undefined) ?? (env[variable] || undefined);
  const caFile = flag('tls-ca-file', 'STICKLESS_HEALTHCHECK_TLS_CA_FILE');
  const certFile = flag('tls-cert-file', 'STICKLESS_HEALTHCHECK_TLS_CERT_FILE');
  const keyFile = flag('tls-key-file', 'STICKLESS_HEALTHCHECK_TLS_KEY_FILE');
  const serverName = flag('tls-server-name', 'STICKLESS_HEALTHCHECK_TLS_SERVER_NAME');
  const address = positionals[0] ?? `127.0.0.1:${env.STICKLESS_LISTEN?.split(':').pop() ?? 50051}`;
  const timeoutMs = Number(values['timeout-ms'] ?? 2000);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) usage(`--timeout-ms: expected a whole number of ms above 0, got ${JSON.stringify(values['timeout-ms'])}`);
  const tls = values.tls === true || caFile !== undefined || certFile !== undefined || serverName !== undefined || Boolean(env.STICKLESS_TLS_CERT_FILE);
  if (!tls) return { address, timeoutMs, credentials: grpc.credentials.createInsecure(), channelOptions: {} };
  if ((certFile === undefined) !== (keyFile === undefined)) usage('--tls-cert-file and --tls-key-file go together');
  const read = (path: string | undefined, name: string): Buffer | null => {
    if (path === undefined) return null;
    try {
      return readFileSync(path);
    } catch (error) {
      return usage(`${name}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const credentials = grpc.credentials.createSsl(read(caFile, '--tls-ca-file'), read(keyFile, '--tls-key-file'), read(certFile, '--tls-cert-file'));
  return { address, timeoutMs, credentials, channelOptions: serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {} };
}

const { address, timeoutMs, credentials, channelOptions } = readProbeOptions();
const definition = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as unknown as {
  grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions) => grpc.Client & {
    Check(request: { service: string }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): void;
  } } } };
};
const client = new definition.grpc.health.v1.Health(address, credentials, channelOptions);
client.Check({ service: '' }, { deadline: Date.now() + timeoutMs }, (error, reply) => {
  const status = error ? `error: ${error.details}` : reply?.status;
  process.stdout.write(`${address}: ${status}\n`);
  client.close();
  process.exit(status === 'SERVING' ? 0 : 1);
});
