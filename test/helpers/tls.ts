// Test certificates made at test time with the openssl CLI in a temp dir: a CA, server certificates
// for 127.0.0.1/localhost and client certificates, all P-256 and valid for two days.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

export interface TestCertificate {
  /** PEM file paths. */
  certFile: string;
  keyFile: string;
  commonName: string;
}

export interface TestPki {
  dir: string;
  /** The CA's certificate file (PEM). */
  caFile: string;
  /** A server certificate with SAN IP:127.0.0.1 and DNS:localhost. */
  issueServer(commonName: string): TestCertificate;
  /** A client certificate (extendedKeyUsage clientAuth). */
  issueClient(commonName: string): TestCertificate;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** A fresh CA in a temp dir removed in teardown; `caName` tells two CAs apart. */
export function createTestPki(t: ExecutionContext, caName = 'stickless-test-ca'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'stickless-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${caName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let serial = 1;
  const issue = (commonName: string, extensions: string): TestCertificate => {
    const base = `${commonName}-${serial}`;
    writeFileSync(join(dir, `${base}.ext`), extensions);
    openssl(dir, ['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${commonName}`]);
    openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++),
      '-days', '2', '-out', `${base}.pem`, '-extfile', `${base}.ext`]);
    return { certFile: join(dir, `${base}.pem`), keyFile: join(dir, `${base}.key`), commonName };
  };
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    issueServer: (commonName) => issue(commonName, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'),
    issueClient: (commonName) => issue(commonName, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'),
  };
}
