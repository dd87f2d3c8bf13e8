import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { partitionOf, workerOf } from '../../core/index.js';

/** Where a worker sits among the workers of its broker, and how it finds the others. */
export class WorkerTopology {
  constructor(
    /** This worker, 0-based. */
    readonly index: number,
    /** Workers of the broker (BROKER_WORKERS resolved). */
    readonly count: number,
    /** The data dir's partition count. */
    readonly partitions: number,
    /** The directory of the workers' unix sockets. */
    readonly socketDir: string,
    /** BROKER_ID: the broker's name, before the worker's. */
    readonly brokerId: string,
  ) {}

  /** The worker that owns the subject's partition. */
  ownerOf(subject: string): number {
    return workerOf(partitionOf(subject, this.partitions), this.count);
  }

  /** A worker's name in SubjectInfo.owner, NOT_OWNER errors and logs: `<broker id>/w<n>`. */
  nameOf(worker: number): string {
    return `${this.brokerId}/w${worker}`;
  }

  socketOf(worker: number): string {
    return join(this.socketDir, `w${worker}.sock`);
  }
}

/**
 * The workers' socket directory for a data dir: under the temp dir (a unix socket path is limited to 107 bytes,
 * which a deep data dir would pass), named by a hash of the data dir's real path so two brokers never share one.
 */
export function socketDirFor(dataDir: string): string {
  let real = resolve(dataDir);
  try {
    real = realpathSync(real);
  } catch {
    // Not there yet: the primary creates it; the resolved path names it the same way in every worker.
  }
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 16);
  return join(tmpdir(), `broker-${hash}`);
}
