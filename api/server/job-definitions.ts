import type { Logger } from 'pino';
import { NotOwnerError, type SegmentRef } from '../../core/index.js';
import type { JobMetrics, KeyedJob, PeriodicJob } from '../../jobs/index.js';
import type { Compactor } from '../../retention/index.js';
import type { Replicator } from '../../tiering/index.js';
import { inSpan } from '../tracing/in-span.js';
import { processTracing } from '../tracing/process-tracing.js';

/** The job names: label values of broker_jobs_total{task} and the last part of the BullMQ queue names. */
export const COMPACTION = 'compaction';
export const REPLICATION = 'replication';

/**
 * The replication job id of a segment: deterministic, so a segment is queued once however many sweeps and seal
 * events ask. BullMQ refuses ':' in custom ids and subjects may hold one, so the subject is base64url-encoded.
 */
export function replicationJobId(ref: SegmentRef): string {
  return `r-${Buffer.from(ref.subject, 'utf8').toString('base64url')}-${ref.baseOffset}`;
}

/** Compaction every interval, judged by `now`; a pass that did something is logged. */
export function compactionJob(compactor: Compactor, logger: Logger, now: () => number): PeriodicJob {
  return {
    name: COMPACTION,
    async run() {
      const result = await compactor.run(now());
      if (result.segmentsExpired + result.segmentsDroppedLocally + result.recordsDeleted > 0)
        logger.info({ result }, 'compaction');
      // The damaged records themselves are logged (and counted) by the log's reads; this says compaction went on.
      if (result.segmentsDamaged > 0)
        logger.warn({ segments: result.segmentsDamaged }, 'compaction left segments with damaged records untrimmed');
      return result;
    },
  };
}

/** One replication job per sealed, unreplicated segment; the log's owed segments are what the sweep re-enqueues. */
export function replicationJob(replicator: Replicator, metrics: JobMetrics, concurrency: number): KeyedJob<SegmentRef> {
  return {
    name: REPLICATION,
    concurrency,
    idOf: replicationJobId,
    // Only the key crosses the queue: a job that waited in Redis reads the segment as it is now. A job queued for
    // this worker before BROKER_WORKERS changed may name another worker's partition: that worker's own sweep owes
    // it, so here it is done with, not failed into the dead letters.
    // With tracing on, each job is a trace of its own (sampled at the ratio), its CQL writes its children.
    run: (ref) =>
      inSpan(
        processTracing(),
        'job replication',
        { subject: ref.subject, base_offset: ref.baseOffset },
        () =>
          replicator.replicate({ subject: ref.subject, baseOffset: ref.baseOffset }).catch((err: unknown) => {
            if (!(err instanceof NotOwnerError)) throw err;
          }),
        true,
      ),
    owed: () => replicator.owed(),
    onSwept: (owed) => metrics.setLag(owed),
  };
}
