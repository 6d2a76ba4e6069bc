// A transport peer of sessiond for the lag benchmark's GC rows, as its own process:
// `node --trace-gc-nvp bench/transport-peer-server.ts http2|grpc|tcp PORT`. `http2`: a bare node:http2
// server answering each POST with a gRPC-shaped response (headers, one DATA frame, trailers). `grpc`:
// a bare @grpc/grpc-js server with a unary method that echoes its bytes, and a bidirectional one
// that echoes each message on one long-lived stream (as sessiond's Pipeline carries calls). `tcp`: a
// bare node:net server writing back what it reads (the wake-up floor, bench/wakeup-floor.ts). None
// does anything else, so their collections are what the transport alone costs at a given call rate.
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:http2';
import { createServer as createNetServer } from 'node:net';

export const ECHO_PATH = '/stickless.bench.Echo/Echo';
export const ECHO_STREAM_PATH = '/stickless.bench.Echo/EchoStream';
const identity = (bytes: Buffer): Buffer => bytes;
export const ECHO_SERVICE = {
  Echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  EchoStream: { path: ECHO_STREAM_PATH, requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
} satisfies grpc.ServiceDefinition;

if (process.argv[1] === import.meta.filename) {
  const [kind, port] = process.argv.slice(2);
  if (kind === 'http2') {
    const server = createServer();
    server.on('stream', (stream) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => {});
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat(chunks));
      });
    });
    server.listen(Number(port), '127.0.0.1');
  } else if (kind === 'grpc') {
    const server = new grpc.Server();
    server.addService(ECHO_SERVICE, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
      EchoStream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (message: Buffer) => call.write(message));
        call.on('end', () => call.end());
      },
    });
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
      if (error) throw error;
    });
  } else if (kind === 'tcp') {
    // The floor under any of them: a TCP server that writes back each chunk it reads.
    createNetServer((socket) => socket.on('data', (chunk) => socket.write(chunk)).on('error', () => {})).listen(Number(port), '127.0.0.1');
  } else {
    process.stderr.write('usage: transport-peer-server.ts http2|grpc|tcp PORT\n');
    process.exit(2);
  }
}
