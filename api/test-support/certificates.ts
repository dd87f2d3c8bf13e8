import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as PEM files. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** Certificates made for one test run by the openssl CLI (Debian's openssl package), in a temp dir. */
export interface TestPki {
  readonly dir: string;
  /** The CA that signs everything below; its certificate is `ca.cert`. */
  readonly ca: CertFiles;
  /** For 127.0.0.1 and localhost, usable as server and as client certificate (a cluster member's). */
  readonly server: CertFiles;
  /** A client certificate signed by the CA. */
  readonly client: CertFiles;
  /** A client certificate signed by the CA whose validity ended in 2020. */
  readonly expiredClient: CertFiles;
  /** A CA that signed none of the above. */
  readonly otherCa: CertFiles;
  /**
   * Issues one more server certificate for 127.0.0.1 and localhost (a rotation, a member), written to
   * `name`.pem / `name`-key.pem, from the CA or from `signer` (e.g. `otherCa`: a member of a foreign CA).
   */
  issueServer(name: string, signer?: CertFiles): Promise<CertFiles>;
  /** Issues a client certificate from the CA with CN=`name` and, if given, a subjectAltName (`URI:spiffe://…`). */
  issueClient(name: string, san?: string): Promise<CertFiles>;
  dispose(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error('openssl is not installed (apt-get install openssl)', { cause: err });
    throw err;
  }
}

async function selfSignedCa(dir: string, name: string): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return files;
}

/**
 * Issues a leaf certificate from `ca` with `openssl ca`, which (unlike `openssl x509 -req` in OpenSSL 3.0) takes any
 * validity dates, so an expired certificate can be made without touching the clock.
 */
async function issue(
  dir: string,
  ca: CertFiles,
  name: string,
  options: { san?: string; start?: string; end?: string } = {},
): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      files.key,
      '-out',
      csr,
    ],
    dir,
  );
  await writeFile(
    ext,
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = any',
      'copy_extensions = none',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '[leaf]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = serverAuth,clientAuth',
      ...(options.san === undefined ? [] : [`subjectAltName = ${options.san}`]),
    ].join('\n'),
  );
  await openssl(
    [
      'ca',
      '-batch',
      '-config',
      ext,
      '-extensions',
      'leaf',
      '-cert',
      ca.cert,
      '-keyfile',
      ca.key,
      '-in',
      csr,
      '-out',
      files.cert,
      '-notext',
      '-startdate',
      options.start ?? '20240101000000Z',
      '-enddate',
      options.end ?? '20991231000000Z',
    ],
    dir,
  );
  return files;
}

/** Makes a CA, a server and client certificates, an expired client certificate and an unrelated CA. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'broker-pki-'));
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  const ca = await selfSignedCa(dir, 'ca');
  const otherCa = await selfSignedCa(dir, 'other-ca');
  const san = 'IP:127.0.0.1,DNS:localhost';
  const issueServer = (name: string, signer: CertFiles = ca) => issue(dir, signer, name, { san });
  return {
    dir,
    ca,
    otherCa,
    server: await issueServer('server'),
    client: await issue(dir, ca, 'client'),
    expiredClient: await issue(dir, ca, 'expired-client', { start: '20200101000000Z', end: '20200102000000Z' }),
    issueServer,
    issueClient: (name, clientSan) => issue(dir, ca, name, clientSan === undefined ? {} : { san: clientSan }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
