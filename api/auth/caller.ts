import { NotAuthorizedError, QuotaExceededError } from '../../core/index.js';
import type { Operation } from './auth-file-schema.js';
import type { Identity } from './access-rules.js';
import type { QuotaLimit } from './token-bucket.js';

/** Where refusals go: logged with the identity, counted by operation and reason. */
export interface DenialLog {
  denied(denial: { identity: string; operation: string; subject: string; reason: string }): void;
}

/** An identity's rate limits (see access-control.ts for how they survive a reload). */
export interface IdentityLimits {
  readonly publish: QuotaLimit | undefined;
  readonly delivery: QuotaLimit | undefined;
}

/**
 * The authenticated caller of one call: what its identity may do, and its quotas. Every refusal is reported to the
 * denial log before it is thrown, so the operator sees who was refused what.
 */
export class Caller {
  constructor(
    readonly identity: Identity,
    private readonly limits: IdentityLimits,
    private readonly log: DenialLog,
  ) {}

  /** PERMISSION_DENIED (NOT_AUTHORIZED) unless the identity may do `operation` on `subject`. */
  authorize(operation: Operation, subject: string): void {
    if (this.identity.permissions[operation].allows(subject)) return;
    this.log.denied({ identity: this.identity.name, operation, subject, reason: 'NOT_AUTHORIZED' });
    throw new NotAuthorizedError(this.identity.name, operation, subject);
  }

  /** What ListSubjects shows: subjects the identity may subscribe to or administer. */
  mayList(subject: string): boolean {
    const { subscribe, admin } = this.identity.permissions;
    return subscribe.allows(subject) || admin.allows(subject);
  }

  /** Takes `count` messages of `bytes` from the publish quota, or refuses them (QUOTA_EXCEEDED with the delay). */
  admitPublish(count: number, bytes: number, subject: string): void {
    const wait = this.limits.publish?.tryTake(count, bytes) ?? 0;
    if (wait === 0) return;
    this.log.denied({ identity: this.identity.name, operation: 'publish', subject, reason: 'QUOTA_EXCEEDED' });
    throw new QuotaExceededError(this.identity.name, 'publish', wait);
  }

  /** The delivery quota the identity's Subscribe streams are paced to (undefined: none, deliver at once). */
  get deliveryLimit(): QuotaLimit | undefined {
    return this.limits.delivery;
  }

  /** The publish quota a PublishStream is paced to (undefined: none). */
  get publishLimit(): QuotaLimit | undefined {
    return this.limits.publish;
  }

  /** Settles once admitPublish can answer from what this process holds (a worker may wait for one lease). */
  preparePublish(): Promise<void> | undefined {
    return this.limits.publish?.prepare();
  }
}
