import { z } from 'zod';
import { SubjectPattern } from './subject-pattern.js';

/** The operations a rule names: publish (Publish*), subscribe (Subscribe, Fetch, FetchRange), admin (GetSubject). */
export const OPERATIONS = ['publish', 'subscribe', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];

const pattern = z.string().superRefine((source, ctx) => {
  const parsed = SubjectPattern.parse(source);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

const rule = z.strictObject({
  allow: z.array(pattern).default([]),
  deny: z.array(pattern).default([]),
});

const rate = z.strictObject({
  /** Messages per second (the burst: one second's worth). */
  messagesPerSecond: z.number().positive().optional(),
  /** Body bytes per second (the burst: one second's worth). */
  bytesPerSecond: z.number().positive().optional(),
});

const identity = z.strictObject({
  name: z.string().min(1),
  /** `sha256:<64 hex>` of each bearer token this identity holds (`printf %s "$TOKEN" | sha256sum`). */
  tokens: z
    .array(z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a token is "sha256:" and 64 lower-case hex digits'))
    .default([]),
  /** Client certificate names that are this identity: `CN=<common name>` or a SAN entry (`DNS:…`, `URI:…`, `email:…`). */
  certificates: z
    .array(
      z
        .string()
        .regex(
          /^(CN=|DNS:|URI:|email:|IP Address:).+/,
          'a certificate name is CN=…, DNS:…, URI:…, email:… or IP Address:…',
        ),
    )
    .default([]),
  permissions: z
    .strictObject({ publish: rule.optional(), subscribe: rule.optional(), admin: rule.optional() })
    .default({}),
  quota: z.strictObject({ publish: rate.optional(), delivery: rate.optional() }).optional(),
});

const jwt = z
  .strictObject({
    /** A PEM public key (SPKI) file, relative to the auth file. */
    publicKey: z.string().min(1).optional(),
    /** A JWKS file (`{"keys": [...]}`), relative to the auth file. */
    jwks: z.string().min(1).optional(),
    issuer: z.string().min(1),
    audience: z.string().min(1),
    algorithms: z.array(z.string().min(1)).min(1).default(['RS256', 'ES256', 'EdDSA']),
    clockToleranceSeconds: z.number().int().min(0).default(0),
  })
  .refine((j) => (j.publicKey === undefined) !== (j.jwks === undefined), {
    message: 'name exactly one of publicKey and jwks',
  });

export const authFileSchema = z
  .strictObject({ jwt: jwt.optional(), identities: z.array(identity).min(1) })
  .superRefine((file, ctx) => {
    const names = new Map<string, number>();
    const tokens = new Map<string, number>();
    file.identities.forEach((id, i) => {
      const other = names.get(id.name);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['identities', i, 'name'],
          message: `"${id.name}" is also identities[${other}]`,
        });
      }
      names.set(id.name, i);
      id.tokens.forEach((token, t) => {
        const holder = tokens.get(token);
        if (holder !== undefined && holder !== i) {
          ctx.addIssue({
            code: 'custom',
            path: ['identities', i, 'tokens', t],
            message: `the same token is identities[${holder}]'s`,
          });
        }
        tokens.set(token, i);
      });
    });
  });

export type AuthFile = z.infer<typeof authFileSchema>;
export type IdentitySpec = AuthFile['identities'][number];
export type RuleSpec = z.infer<typeof rule>;
export type RateSpec = z.infer<typeof rate>;
export type JwtSpec = NonNullable<AuthFile['jwt']>;
