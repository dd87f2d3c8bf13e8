import { createHash, timingSafeEqual } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { InvariantError } from '../../core/index.js';
import { OPERATIONS, type AuthFile, type IdentitySpec, type Operation, type RuleSpec } from './auth-file-schema.js';
import { SubjectPattern } from './subject-pattern.js';

/** Allow and deny patterns of one operation: allowed when an allow pattern matches and no deny pattern does. */
export class Permission {
  private readonly allow: SubjectPattern[];
  private readonly deny: SubjectPattern[];

  constructor(spec: RuleSpec | undefined) {
    this.allow = (spec?.allow ?? []).map(compile);
    this.deny = (spec?.deny ?? []).map(compile);
  }

  allows(subject: string): boolean {
    return this.allow.some((p) => p.matches(subject)) && !this.deny.some((p) => p.matches(subject));
  }
}

/** One identity of the auth file, its rules compiled. */
export interface Identity {
  readonly name: string;
  readonly permissions: Readonly<Record<Operation, Permission>>;
  readonly quota: IdentitySpec['quota'];
}

/**
 * The auth file's identities and how a credential finds one: a bearer token by its SHA-256 (compared in constant
 * time against every token held, so neither a match nor its position shows in the time taken), a client
 * certificate by its CN or a SAN entry, a verified JWT by its `sub` (the identity's name).
 */
export class AccessRules {
  private readonly identities = new Map<string, Identity>();
  private readonly tokens: Array<{ hash: Buffer; identity: Identity }> = [];
  private readonly certificates = new Map<string, Identity>();

  constructor(file: AuthFile) {
    for (const spec of file.identities) {
      const permissions = Object.fromEntries(
        OPERATIONS.map((op) => [op, new Permission(spec.permissions[op])]),
      ) as Record<Operation, Permission>;
      const identity: Identity = { name: spec.name, permissions, quota: spec.quota };
      this.identities.set(spec.name, identity);
      for (const token of spec.tokens) {
        this.tokens.push({ hash: Buffer.from(token.slice('sha256:'.length), 'hex'), identity });
      }
      for (const name of spec.certificates) this.certificates.set(name, identity);
    }
  }

  byName(name: string): Identity | undefined {
    return this.identities.get(name);
  }

  byToken(token: string): Identity | undefined {
    const hash = createHash('sha256').update(token).digest();
    let found: Identity | undefined;
    for (const held of this.tokens) {
      if (timingSafeEqual(hash, held.hash) && found === undefined) found = held.identity;
    }
    return found;
  }

  /** The identity one of the certificate's names (CN=…, or a subjectAltName entry such as DNS:… or URI:…) is. */
  byCertificate(cert: PeerCertificate): Identity | undefined {
    const names = [`CN=${String(cert.subject.CN)}`, ...(cert.subjectaltname ?? '').split(', ')];
    for (const name of names) {
      const identity = this.certificates.get(name);
      if (identity !== undefined) return identity;
    }
    return undefined;
  }
}

function compile(source: string): SubjectPattern {
  const parsed = SubjectPattern.parse(source);
  // The schema has checked every pattern: one that does not parse here is a bug, not bad input.
  if (typeof parsed === 'string') throw new InvariantError(`unchecked subject pattern: ${parsed}`);
  return parsed;
}
