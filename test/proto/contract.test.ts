// Issue 7, point 7: the contract as other languages and tools see it. A FieldOp delete cannot be
// sent by accident (an empty message; the old bool at field 3 deletes only when true), the file
// names its package for every generator, and sessiond answers gRPC server reflection unless told not to.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import test, { type ExecutionContext } from 'ava';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { GetResponse__Output } from '../../proto/generated/stickless/session/v1/GetResponse.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { SESSION_PROTO_PATH } from '../../proto/index.ts';
import { parseServerConfig } from '../../server/config.ts';
import { call, enc, errorCode, rawStub, type RawStub } from '../helpers/grpc.ts';
import { startSessiond } from '../helpers/servers.ts';

const NS = 'shop';

async function session(t: ExecutionContext, config: Parameters<typeof startSessiond>[1] = {}): Promise<{ address: string; stub: RawStub; id: string }> {
  const sessiond = await startSessiond(t, { store: 'memory', ...config });
  const stub = rawStub(t, sessiond.address);
  const fields = { a: enc(1), b: enc(2), c: enc(3) };
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: NS, fields });
  return { address: sessiond.address, stub, id: created.session!.id };
}

async function fieldNames(stub: RawStub, id: string): Promise<string[]> {
  const got = await call<object, GetResponse__Output>(stub, 'Get', { namespace: NS, id });
  return Object.keys(got.session!.fields).sort();
}

// Protobuf wire encoding by hand, to send exactly what a client built from the old .proto sent.
const varint = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...varint(n >>> 7)]);
const bytesField = (no: number, data: Uint8Array | string): Buffer => {
  const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(body.length)]), body]);
};

/** Patch with one FieldOp `{field, <old bool delete = 3>: value}`, as the pre-issue-7 contract encoded it. */
function rawLegacyPatch(address: string, id: string, field: string, value: boolean): Promise<Buffer> {
  const op = Buffer.concat([bytesField(1, field), Buffer.from([(3 << 3) | 0, value ? 1 : 0])]);
  const request = Buffer.concat([bytesField(1, NS), bytesField(2, id), bytesField(3, op)]);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest('/stickless.session.v1.SessionService/Patch', (b: Buffer) => b, (b: Buffer) => b, request, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, reply) => {
      client.close();
      if (error) reject(error);
      else resolve(reply!);
    });
  });
}

test('issue 7: FieldOp.delete is an empty message; the old bool at field 3 deletes only when true', async (t) => {
  const { address, stub, id } = await session(t);
  await call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'a', delete: {} }] });
  t.deepEqual(await fieldNames(stub, id), ['b', 'c']);

  // `delete = false` from an old client used to delete the field: now it is refused, naming the op.
  const error = (await t.throwsAsync(rawLegacyPatch(address, id, 'b', false))) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.INVALID_ARGUMENT);
  t.is(errorCode(error), 'SESS_ERR_INVALID_ARGUMENT');
  t.is(error.details, 'ops[0].legacy_delete: false deletes nothing; send delete {} to remove the field');
  t.deepEqual(await fieldNames(stub, id), ['b', 'c']);
  // `delete = true` from an old client still works (same field number and wire type).
  await rawLegacyPatch(address, id, 'b', true);
  t.deepEqual(await fieldNames(stub, id), ['c']);
  // The same through the generated stub's deprecated member.
  await t.throwsAsync(call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'c', legacyDelete: false }] }));
  await call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'c', legacyDelete: true }] });
  t.deepEqual(await fieldNames(stub, id), []);
  // A FieldOp with no operation at all is refused, not taken for anything.
  const empty = (await t.throwsAsync(call(stub, 'Patch', { namespace: NS, id, ops: [{ field: 'c' }] }))) as unknown as grpc.ServiceError;
  t.is(empty.details, 'ops[0]: expected one of set, delete, increment_int, increment_float, append');
});

test('issue 7: session.proto names the package of every common generator', (t) => {
  const options = protobuf.loadSync(SESSION_PROTO_PATH).lookup('stickless.session.v1')!.options ?? {};
  t.like(options, {
    go_package: 'github.com/stickless/stickless/gen/go/stickless/session/v1;sessionv1',
    java_package: 'dev.stickless.session.v1',
    java_multiple_files: true,
    csharp_namespace: 'Stickless.Session.V1',
    php_namespace: 'Stickless\\Session\\V1',
    ruby_package: 'Stickless::Session::V1',
    objc_class_prefix: 'SSV',
  });
});

const REFLECTION_PROTO = fileURLToPath(new URL('../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto', import.meta.url));

interface ReflectionResponse {
  listServicesResponse?: { service: Array<{ name: string }> };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** One request on a raw grpc.reflection.v1 ServerReflectionInfo stream; resolves its one answer. */
function reflect(address: string, request: Record<string, string>): Promise<ReflectionResponse> {
  const definition = protoLoader.loadSync(REFLECTION_PROTO, { keepCase: false, longs: Number, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } };
  const { ServerReflection } = loaded.grpc.reflection.v1;
  const client = new ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise<ReflectionResponse>((resolve, reject) => {
    const stream = (client as unknown as { serverReflectionInfo(md: grpc.Metadata, o: grpc.CallOptions): grpc.ClientDuplexStream<object, ReflectionResponse> })
      .serverReflectionInfo(new grpc.Metadata(), { deadline: Date.now() + 20_000 });
    stream.on('data', (reply: ReflectionResponse) => {
      resolve(reply);
      stream.end();
    });
    stream.on('error', reject);
    stream.on('close', () => client.close());
    stream.write({ host: '', ...request });
  });
}

test('issue 7: a reflection client lists SessionService and Health and fetches the descriptor with its options', async (t) => {
  const { address } = await session(t);
  const listed = await reflect(address, { listServices: '' });
  const names = listed.listServicesResponse!.service.map((s) => s.name).sort();
  t.true(names.includes('stickless.session.v1.SessionService'), names.join(', '));
  t.true(names.includes('grpc.health.v1.Health'), names.join(', '));

  const file = await reflect(address, { fileContainingSymbol: 'stickless.session.v1.SessionService' });
  const files = file.fileDescriptorResponse!.fileDescriptorProto.map((bytes) => descriptor.FileDescriptorProto.decode(bytes) as unknown as {
    package: string; service: Array<{ name: string; method: Array<{ name: string }> }>; options?: { goPackage?: string; csharpNamespace?: string };
  });
  const contract = files.find((f) => f.package === 'stickless.session.v1')!;
  t.deepEqual(contract.service[0]!.method.map((m) => m.name), ['Create', 'Get', 'Put', 'Patch', 'Delete', 'Touch', 'Regenerate', 'ListByOwner', 'RevokeByOwner', 'Watch', 'Track', 'Pipeline']);
  t.is(contract.options?.goPackage, 'github.com/stickless/stickless/gen/go/stickless/session/v1;sessionv1');
  t.is(contract.options?.csharpNamespace, 'Stickless.Session.V1');
});

test('issue 7: reflection is on by default and off with reflection: false (STICKLESS_REFLECTION=false)', async (t) => {
  t.true(parseServerConfig({}).reflection);
  t.false(parseServerConfig({ reflection: 'false' }).reflection, 'as an environment variable spells it');
  t.true(parseServerConfig({ reflection: 'true' }).reflection);
  t.throws(() => parseServerConfig({ reflection: 'no' }), { message: /reflection: expected true or false/ });
  const { address, stub, id } = await session(t, { config: { reflection: false } });
  const error = (await t.throwsAsync(reflect(address, { listServices: '' }))) as unknown as grpc.ServiceError;
  t.is(error.code, grpc.status.UNIMPLEMENTED);
  t.deepEqual(await fieldNames(stub, id), ['a', 'b', 'c'], 'the session service is still there');
});
