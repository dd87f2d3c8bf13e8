import type { handleUnaryCall } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import type { LogReader, LogWriter } from '../../core/index.js';
import type { AppendRequest, AppendResponse } from '../../proto/gen/internal.js';
import { BrokerService, type BrokerServiceOptions } from '../grpc/broker-service.js';
import type { ErrorLogger } from '../grpc/status.js';
import { RequestGuard } from '../grpc/validate.js';
import { BrokerMetrics } from '../metrics/broker-metrics.js';
import { ForwardingService } from '../../proto/gen/internal.js';
import { traceHandlers } from '../tracing/grpc-tracing.js';
import { processTracing } from '../tracing/process-tracing.js';
import { appendHandler } from './append-handler.js';

/**
 * What an owner (a worker, or a cluster member) serves to the calls others forward to it: a broker.Broker service
 * over its own partitions only, and broker.internal.Forwarding/Append for their batched publishes.
 */
export interface ForwardedCalls {
  readonly service: BrokerService;
  /** The Append handler, given how to count a call in and out for the graceful shutdown. */
  append(track: <T>(work: () => Promise<T>) => Promise<T>): handleUnaryCall<AppendRequest, AppendResponse>;
}

/**
 * The owner side, built once for workers and members alike. Its service never forwards (it has no router: the log
 * refuses what this process does not own) and has metrics of its own, not exported: a forwarded call is counted
 * once, where the client called.
 */
export function ownerSide(
  local: { writer: LogWriter; reader: LogReader },
  service: Omit<BrokerServiceOptions, 'writer' | 'reader' | 'router' | 'ownerName' | 'metrics'>,
  ownerName: string,
  logger: ErrorLogger,
): ForwardedCalls {
  const guard = new RequestGuard(service.maxBodyBytes, service.maxResponseBytes);
  return {
    service: new BrokerService({ ...service, ...local, ownerName, metrics: new BrokerMetrics(new Registry()) }),
    // With tracing on, an Append is a server span continuing the forwarding worker's or member's trace.
    append: (track) =>
      traceHandlers(processTracing(), ForwardingService, {
        append: appendHandler({ writer: local.writer, guard, logger, track }),
      }).append,
  };
}
