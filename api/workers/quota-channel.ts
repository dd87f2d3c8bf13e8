import type { LeaseAnswer, LeaseAsk, LeaseChannel } from '../auth/leased-limit.js';
import { isQuotaGrant, type QuotaGrant, type QuotaLeaseRequest } from './cluster-messages.js';

/** An answer not back by then (the primary stopping, the channel gone) counts as a refusal of REFUSED_FOR_MS. */
const ANSWER_TIMEOUT_MS = 1_000;
const REFUSED_FOR_MS = 100;

/** The part of `process` a worker talks to its primary through. */
interface PrimaryLink {
  send?(message: unknown, handle: undefined, options: undefined, callback: (err: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * A worker's way to the primary's quota ledger over node:cluster's IPC channel: one message each way per lease (a
 * tenth of a second's quota), never per call.
 */
export class IpcLeaseChannel implements LeaseChannel {
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: QuotaGrant) => void>();

  constructor(private readonly primary: PrimaryLink = process) {
    primary.on('message', (message) => {
      if (isQuotaGrant(message)) this.waiting.get(message.id)?.(message);
    });
  }

  ask(request: LeaseAsk): Promise<LeaseAnswer> {
    const id = this.nextId++;
    const refused: LeaseAnswer = { messages: 0, bytes: 0, retryMs: REFUSED_FOR_MS };
    return new Promise((resolve) => {
      const settle = (answer: LeaseAnswer): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(answer);
      };
      const timer = setTimeout(() => settle(refused), ANSWER_TIMEOUT_MS);
      timer.unref();
      this.waiting.set(id, settle);
      const message: QuotaLeaseRequest = { type: 'broker:quota-lease', id, ...request };
      // A closed channel (the primary is gone; this worker stops too) is refused like an unanswered lease.
      const sent = this.primary.send?.(message, undefined, undefined, (err) => {
        if (err !== null) settle(refused);
      });
      if (sent === undefined) settle(refused);
    });
  }
}
