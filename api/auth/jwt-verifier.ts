import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createLocalJWKSet, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { ConfigError, UnauthenticatedError } from '../../core/index.js';
import { AUTH_FILE_SETTING } from './auth-file.js';
import type { JwtSpec } from './auth-file-schema.js';

type Verify = (token: string, options: JWTVerifyOptions) => Promise<{ payload: JWTPayload }>;

/**
 * Verifies JWTs with `jose` (signature, exp, nbf, iss and aud, within the algorithms the auth file names) against a
 * PEM public key or a JWKS file named by the auth file; the verified `sub` is the caller's identity name.
 */
export class JwtVerifier {
  private constructor(
    private readonly spec: JwtSpec,
    private readonly verify: Verify,
  ) {}

  /** Loads the key the auth file names (paths relative to the auth file); a bad key file is a ConfigError. */
  static async load(spec: JwtSpec, authFilePath: string): Promise<JwtVerifier> {
    const base = dirname(authFilePath);
    try {
      if (spec.jwks !== undefined) {
        const jwks = JSON.parse(await readFile(resolve(base, spec.jwks), 'utf8')) as Parameters<
          typeof createLocalJWKSet
        >[0];
        const keys = createLocalJWKSet(jwks);
        return new JwtVerifier(spec, (token, options) => jwtVerify(token, keys, options));
      }
      const pem = await readFile(resolve(base, spec.publicKey ?? ''), 'utf8');
      const alg = spec.algorithms[0] ?? 'RS256';
      const key = await importSPKI(pem, alg, { extractable: false });
      return new JwtVerifier(spec, (token, options) => jwtVerify(token, key, options));
    } catch (err) {
      const what = spec.jwks === undefined ? `jwt.publicKey ${spec.publicKey ?? ''}` : `jwt.jwks ${spec.jwks}`;
      throw new ConfigError(AUTH_FILE_SETTING, `${what}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The verified token's subject, or UNAUTHENTICATED saying what failed (expired, wrong issuer, bad signature…). */
  async subjectOf(token: string): Promise<{ subject: string; expiresAtMs: number | undefined }> {
    try {
      const { payload } = await this.verify(token, {
        issuer: this.spec.issuer,
        audience: this.spec.audience,
        algorithms: this.spec.algorithms,
        clockTolerance: this.spec.clockToleranceSeconds,
      });
      if (payload.sub === undefined || payload.sub === '') throw new Error('the token has no "sub" claim');
      return { subject: payload.sub, expiresAtMs: payload.exp === undefined ? undefined : payload.exp * 1000 };
    } catch (err) {
      throw new UnauthenticatedError(`JWT refused: ${(err as Error).message}`, {
        cause: err,
        metadata: { credential: 'jwt' },
      });
    }
  }

  /** Whether a bearer token is a JWT (three base64url parts) rather than an opaque token. */
  static looksLikeJwt(token: string): boolean {
    return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);
  }
}
