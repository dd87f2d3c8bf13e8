import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ConfigError, type BrokerConfig } from '../../core/index.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** The PEM files of one TLS identity, and the CA its peers must be signed by (none: peers need no certificate). */
export interface TlsFilePaths {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
  /** The setting that names `ca`, for errors. @defaultValue 'BROKER_TLS_CLIENT_CA' */
  readonly caVariable?: string;
}

/** What was read from the files: the identity and the CA, as one consistent set. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

/**
 * A TLS identity read from PEM files and read again every `intervalMs`, so a certificate rotated on disk (cert-manager
 * renewing a Kubernetes Secret, which swaps the mounted files at once) is served to new connections without a
 * restart; established connections keep the certificate they were made with. Files are compared by content, not by
 * mtime: a Secret mount replaces a symlink, which stat does not always show. A new set is taken only once node's TLS
 * accepts it (certificate and key match, PEM parses); a half-written rotation is logged and the last good set kept.
 *
 * It is grpc-js's CertificateProvider (experimental API, both the identity and the CA side) for the gRPC server and the
 * peers' channels, and tells the metrics endpoint through `onChange`.
 */
export class TlsFiles implements CertificateProvider {
  private current: TlsMaterial;
  private digest: string;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly changeListeners = new Set<(material: TlsMaterial) => void>();
  private readonly timer: NodeJS.Timeout;
  private reading: Promise<void> | undefined;

  private constructor(
    private readonly paths: TlsFilePaths,
    first: { material: TlsMaterial; digest: string },
    intervalMs: number,
    private readonly logger: Logger,
  ) {
    this.current = first.material;
    this.digest = first.digest;
    this.timer = setInterval(() => void this.reload(), intervalMs);
    this.timer.unref();
  }

  /** Reads the files once (a ConfigError naming the variable when one cannot be read or used) and starts watching. */
  static async open(paths: TlsFilePaths, intervalMs: number, logger: Logger): Promise<TlsFiles> {
    return new TlsFiles(paths, await readMaterial(paths), intervalMs, logger);
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** Reads the files now; resolves once a changed set has been handed to every listener (or refused). */
  reload(): Promise<void> {
    this.reading ??= this.readAgain().finally(() => (this.reading = undefined));
    return this.reading;
  }

  onChange(listener: (material: TlsMaterial) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Later, not now: grpc-js subscribes before it adds the watcher that is to hear the answer (server-credentials.js).
    queueMicrotask(() => listener(this.current.ca === undefined ? null : { caCertificate: this.current.ca }));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => listener({ certificate: this.current.cert, privateKey: this.current.key }));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async readAgain(): Promise<void> {
    let next: { material: TlsMaterial; digest: string };
    try {
      next = await readMaterial(this.paths);
    } catch (err) {
      this.logger.warn({ err }, 'TLS files not reloaded: keeping the certificate already served');
      return;
    }
    if (next.digest === this.digest) return;
    this.current = next.material;
    this.digest = next.digest;
    this.logger.info({ cert: this.paths.cert }, 'TLS certificate reloaded');
    const { cert, key, ca } = next.material;
    for (const listener of this.identityListeners) listener({ certificate: cert, privateKey: key });
    for (const listener of this.caListeners) listener(ca === undefined ? null : { caCertificate: ca });
    for (const listener of this.changeListeners) listener(next.material);
  }
}

async function readMaterial(paths: TlsFilePaths): Promise<{ material: TlsMaterial; digest: string }> {
  const [cert, key, ca] = await Promise.all([
    readPem(paths.cert, 'BROKER_TLS_CERT'),
    readPem(paths.key, 'BROKER_TLS_KEY'),
    paths.ca === undefined ? undefined : readPem(paths.ca, paths.caVariable ?? 'BROKER_TLS_CLIENT_CA'),
  ]);
  try {
    // Throws on a key that is not the certificate's, or PEM that does not parse: the set is checked before it is used.
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (err) {
    throw new ConfigError('BROKER_TLS_CERT', `${paths.cert} and ${paths.key} cannot be used: ${String(err)}`, {
      cause: err,
    });
  }
  const hash = createHash('sha256').update(cert).update(key);
  if (ca !== undefined) hash.update(ca);
  return { material: { cert, key, ca }, digest: hash.digest('hex') };
}

async function readPem(path: string, variable: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The server's TLS files from the config, or undefined for a plaintext broker. */
export function serverTlsPaths(config: BrokerConfig): TlsFilePaths | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  return { cert: config.tlsCert, key: config.tlsKey, ca: config.tlsClientCa };
}

/**
 * A TLS cluster member's files towards the other members: its own certificate (served on its peer port, presented
 * as client certificate on its calls) and the CA their certificates are checked with; undefined without TLS.
 */
export function peerTlsPaths(config: BrokerConfig): TlsFilePaths | undefined {
  const ca = config.tlsPeerCa ?? config.tlsClientCa;
  if (config.tlsCert === undefined || config.tlsKey === undefined || ca === undefined) return undefined;
  const caVariable = config.tlsPeerCa === undefined ? 'BROKER_TLS_CLIENT_CA' : 'BROKER_TLS_PEER_CA';
  return { cert: config.tlsCert, key: config.tlsKey, ca, caVariable };
}
