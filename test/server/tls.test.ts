// issue 7, point 8: sessiond serves TLS and mTLS from PEM files, reloads them on SIGHUP without
// unbinding, and the client and the health probe speak it. Certificates are made with openssl.
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SessionClient } from '../../client/index.ts';
import { SessionError } from '../../proto/errors.ts';
import { SessionServiceClientConstructor } from '../../proto/index.ts';
import type { SessionServiceClient } from '../../proto/generated/stickless/session/v1/SessionService.ts';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import { call } from '../helpers/grpc.ts';
import { freePort } from '../helpers/redis.ts';
import { spawnSessiond, startSessiond, waitFor } from '../helpers/servers.ts';
import { createTestPki, type TestPki } from '../helpers/tls.ts';

/** Deadline of raw calls: generous, for a loaded machine. */
const SLOW = { deadlineMs: 30_000 };

function client(t: ExecutionContext, address: string, tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer }): SessionClient {
  const sessions = new SessionClient({ address, namespace: 'ns', tls, deadlineMs: 30_000, retry: { maxAttempts: 1 } });
  t.teardown(() => sessions.destroy());
  return sessions;
}

/** A raw stub whose TLS handshakes report the server certificate's CN into `seen`. */
function watchingStub(t: ExecutionContext, address: string, pki: TestPki, seen: string[]): SessionServiceClient {
  const credentials = grpc.credentials.createSsl(readFileSync(pki.caFile), null, null, {
    checkServerIdentity: (_host, certificate) => {
      seen.push(certificate.subject.CN as string);
      return undefined;
    },
  });
  const stub = new SessionServiceClientConstructor(address, credentials);
  t.teardown(() => stub.close());
  return stub;
}

test('TLS: a client with the CA works, a plaintext client is refused, a client trusting another CA is refused', async (t) => {
  const pki = createTestPki(t);
  const cert = pki.issueServer('sessiond-1');
  const sessiond = await startSessiond(t, { store: 'memory', config: { tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile } });
  t.is(sessiond.server.tls, 'tls');

  const secure = client(t, sessiond.address, { ca: readFileSync(pki.caFile) });
  const { id } = await secure.create({ n: 1 });
  t.deepEqual((await secure.get(id))?.fields, { n: 1 });

  const plaintext = await t.throwsAsync(client(t, sessiond.address).create({}), { instanceOf: SessionError });
  t.is(plaintext?.code, 'SESS_ERR_SERVICE_UNAVAILABLE');
  const other = createTestPki(t, 'another-ca');
  const untrusted = await t.throwsAsync(client(t, sessiond.address, { ca: readFileSync(other.caFile) }).create({}), { instanceOf: SessionError });
  t.is(untrusted?.code, 'SESS_ERR_SERVICE_UNAVAILABLE');
});

test('mTLS: a client without a certificate, or with one from another CA, is refused; one the CA signed works', async (t) => {
  const pki = createTestPki(t);
  const cert = pki.issueServer('sessiond-1');
  const sessiond = await startSessiond(t, { store: 'memory', config: { tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile, tlsCaFile: pki.caFile } });
  t.is(sessiond.server.tls, 'mtls');
  const ca = readFileSync(pki.caFile);

  const anonymous = await t.throwsAsync(client(t, sessiond.address, { ca }).create({}), { instanceOf: SessionError });
  t.is(anonymous?.code, 'SESS_ERR_SERVICE_UNAVAILABLE', 'no client certificate: the handshake fails');
  const stranger = createTestPki(t, 'stranger-ca').issueClient('stranger');
  const foreign = await t.throwsAsync(
    client(t, sessiond.address, { ca, cert: readFileSync(stranger.certFile), key: readFileSync(stranger.keyFile) }).create({}),
    { instanceOf: SessionError },
  );
  t.is(foreign?.code, 'SESS_ERR_SERVICE_UNAVAILABLE', 'a certificate from another CA: the handshake fails');

  const app = pki.issueClient('app-1');
  const known = client(t, sessiond.address, { ca, cert: readFileSync(app.certFile), key: readFileSync(app.keyFile) });
  const { id } = await known.create({ ok: true });
  t.deepEqual((await known.get(id))?.fields, { ok: true });
});

test('client options: tls and credentials are exclusive, cert needs key', (t) => {
  const error = t.throws(() => new SessionClient({ address: '127.0.0.1:1', namespace: 'ns', tls: { cert: 'x' }, credentials: grpc.credentials.createInsecure() }), { instanceOf: SessionError });
  t.regex(error!.message, /tls: give either tls or credentials/);
  t.regex(error!.message, /tls: cert and key go together/);
});

test('SIGHUP reloads the certificate: new connections get the new one on the same port, open ones carry on, bad files change nothing', async (t) => {
  const pki = createTestPki(t);
  const first = pki.issueServer('sessiond-1');
  const second = pki.issueServer('sessiond-2');
  const certFile = join(pki.dir, 'live.pem');
  const keyFile = join(pki.dir, 'live.key');
  copyFileSync(first.certFile, certFile);
  copyFileSync(first.keyFile, keyFile);
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const sessiond = spawnSessiond(t, [], {
    STICKLESS_LISTEN: address, STICKLESS_STORE: 'memory', STICKLESS_TLS_CERT_FILE: certFile, STICKLESS_TLS_KEY_FILE: keyFile,
  });
  await waitFor(() => sessiond.stdout().includes('sessiond listening') || sessiond.child.exitCode !== null, 60_000, 'sessiond to listen');
  t.is(sessiond.child.exitCode, null, sessiond.stderr());

  const seenBefore: string[] = [];
  const before = watchingStub(t, address, pki, seenBefore);
  const created = await call<object, SessionResponse__Output>(before, 'Create', { namespace: 'ns' }, SLOW);
  t.deepEqual(seenBefore, ['sessiond-1']);

  copyFileSync(second.certFile, certFile);
  copyFileSync(second.keyFile, keyFile);
  sessiond.child.kill('SIGHUP');
  await waitFor(() => sessiond.stdout().includes('TLS certificate, key and CA reloaded'), 60_000, 'the reload to be logged');

  const seenAfter: string[] = [];
  await call(watchingStub(t, address, pki, seenAfter), 'Get', { namespace: 'ns', id: created.session!.id }, SLOW);
  t.deepEqual(seenAfter, ['sessiond-2'], 'a new connection sees the new certificate');
  await call(before, 'Get', { namespace: 'ns', id: created.session!.id }, SLOW);
  t.deepEqual(seenBefore, ['sessiond-1'], 'the open connection carried on without a new handshake');

  writeFileSync(keyFile, 'not a key\n');
  sessiond.child.kill('SIGHUP');
  await waitFor(() => sessiond.stdout().includes('TLS reload failed'), 60_000, 'the failed reload to be logged');
  t.regex(sessiond.stdout(), /STICKLESS_TLS_KEY_FILE: .*not a PEM private key/);
  const seenLast: string[] = [];
  await call(watchingStub(t, address, pki, seenLast), 'Get', { namespace: 'ns', id: created.session!.id }, SLOW);
  t.deepEqual(seenLast, ['sessiond-2'], 'after a bad reload the previous certificate still serves');
  t.is(sessiond.child.exitCode, null);
});

const HEALTHCHECK = fileURLToPath(new URL('../../server/healthcheck.ts', import.meta.url));

function probe(args: string[]): Promise<{ status: number | null; stdout: string }> {
  const child = spawn(process.execPath, [HEALTHCHECK, '--timeout-ms', '30000', ...args], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout })));
}

test('the health probe speaks mTLS: SERVING with the CA and a client certificate, failing without them', async (t) => {
  const pki = createTestPki(t);
  const cert = pki.issueServer('sessiond-1');
  const probeCert = pki.issueClient('healthcheck');
  const sessiond = await startSessiond(t, { store: 'memory', config: { tlsCertFile: cert.certFile, tlsKeyFile: cert.keyFile, tlsCaFile: pki.caFile } });
  const [ok, plaintext, noCert] = await Promise.all([
    probe([sessiond.address, '--tls-ca-file', pki.caFile, '--tls-cert-file', probeCert.certFile, '--tls-key-file', probeCert.keyFile]),
    probe([sessiond.address]),
    probe([sessiond.address, '--tls-ca-file', pki.caFile]),
  ]);
  t.is(ok.status, 0, ok.stdout);
  t.regex(ok.stdout, /SERVING/);
  t.is(plaintext.status, 1, plaintext.stdout);
  t.is(noCert.status, 1, noCert.stdout);
});
