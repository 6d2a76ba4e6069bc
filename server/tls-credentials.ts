// sessiond's TLS: grpc-js server credentials built from PEM files that can be read again while the
// server runs. reload() hands the new secure context to every listener grpc-js made from these
// credentials (its watcher calls http2 `setSecureContext`), so new connections get the new
// certificate and open ones carry on; nothing is unbound. Files that do not load or do not fit
// together are refused before anything changes, naming the option.
import * as grpc from '@grpc/grpc-js';
import { createSecureContext, type ConnectionOptions, type SecureContextOptions } from 'node:tls';
import { ServerConfigError, type ServerConfig } from './config.ts';
import { readOptionFiles } from './config-sources.ts';

/** The PEM files of sessiond's TLS, by option name. */
export type ServerTlsFiles = Required<Pick<ServerConfig, 'tlsCertFile' | 'tlsKeyFile'>> & Pick<ServerConfig, 'tlsCaFile'>;

export class ReloadableTlsServerCredentials extends grpc.ServerCredentials {
  readonly #files: ServerTlsFiles;

  /** Reads the files now; throws ServerConfigError naming the option of a file that does not load. */
  constructor(files: ServerTlsFiles) {
    const clientCertRequired = files.tlsCaFile !== undefined;
    // With a CA, the handshake fails for a client without a certificate that CA signed.
    super({ requestCert: clientCertRequired, rejectUnauthorized: clientCertRequired }, readTlsContext(files));
    this.#files = files;
  }

  /** 'tls' or 'mtls' (client certificates required). */
  get mode(): 'tls' | 'mtls' {
    return this.#files.tlsCaFile === undefined ? 'tls' : 'mtls';
  }

  /** Reads the files again; on success new connections use them. On error nothing changes. */
  reload(): void {
    this.updateSecureContextOptions(readTlsContext(this.#files));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Reads and checks the PEM files: each must load alone, and the key must match the certificate. */
export function readTlsContext(files: ServerTlsFiles): SecureContextOptions {
  const { tlsCertFile: cert, tlsKeyFile: key, tlsCaFile: ca } = readOptionFiles(files);
  const context: SecureContextOptions = { cert, key, ca };
  const problems: Array<{ option: string; message: string }> = [];
  const tryContext = (option: keyof ServerTlsFiles, options: SecureContextOptions, what: string): void => {
    try {
      createSecureContext(options);
    } catch (error) {
      problems.push({ option, message: `${files[option]}: ${what} (${(error as Error).message.split('\n')[0]})` });
    }
  };
  tryContext('tlsCertFile', { cert: context.cert }, 'not a PEM certificate chain');
  tryContext('tlsKeyFile', { key: context.key }, 'not a PEM private key (or it is encrypted)');
  if (context.ca) tryContext('tlsCaFile', { ca: context.ca }, 'not a PEM CA bundle');
  if (problems.length === 0) tryContext('tlsKeyFile', { cert: context.cert, key: context.key }, 'does not match the certificate of tlsCertFile');
  if (problems.length > 0) throw new ServerConfigError(problems);
  return context;
}

/** TLS options towards Redis when redisUrl is rediss:// (with Sentinel too), files read now. */
export function readRedisTls(config: Readonly<ServerConfig>): ConnectionOptions | undefined {
  if (!config.redisUrl.startsWith('rediss://')) return undefined;
  const { redisTlsCaFile, redisTlsCertFile, redisTlsKeyFile } = config;
  const files = readOptionFiles({ redisTlsCaFile, redisTlsCertFile, redisTlsKeyFile });
  return { ca: files.redisTlsCaFile, cert: files.redisTlsCertFile, key: files.redisTlsKeyFile };
}
