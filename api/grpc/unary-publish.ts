import { performance } from 'node:perf_hooks';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { LogWriter } from '../../core/index.js';
import type { PublishRequest, PublishResponse } from '../../proto/gen/broker.js';
import type { CallGuards } from '../auth/call-guards.js';
import type { BrokerMetrics, MethodLabels } from '../metrics/broker-metrics.js';
import type { CallGate } from './call-gate.js';
import type { PublishBudget } from './publish-budget.js';
import { toWireError, type ErrorLogger } from './status.js';
import { RequestGuard } from './validate.js';

export interface UnaryPublishDeps {
  readonly writer: LogWriter;
  readonly guards: CallGuards;
  readonly gate: CallGate;
  readonly budget: PublishBudget;
  readonly metrics: BrokerMetrics;
  readonly logger: ErrorLogger;
  /** A call whose guard is still being worked out (BROKER_AUTH_FILE): the service's generic unary path. */
  readonly authenticating: (
    call: ServerUnaryCall<PublishRequest, PublishResponse>,
    callback: sendUnaryData<PublishResponse>,
    guard: Promise<RequestGuard>,
  ) => void;
}

type Call = ServerUnaryCall<PublishRequest, PublishResponse>;

/**
 * Unary Publish, the hottest call. With the shared guard (no BROKER_AUTH_FILE) there is one promise between the
 * request and the answer (the append's) where the generic unary path made six, each with its closure (issue 14:
 * bench/RESULTS.md has the CPU per call before and after). The checks are the same and in the same order: the gate
 * (UNAVAILABLE while shutting down), the request, the in-flight bytes budget (OVERLOADED), then the append.
 */
export class UnaryPublish {
  private readonly labels: MethodLabels;

  constructor(private readonly deps: UnaryPublishDeps) {
    this.labels = deps.metrics.labelsOf('Publish');
  }

  handle(call: Call, callback: sendUnaryData<PublishResponse>): void {
    const guard = this.deps.guards.of(call, 'Publish');
    if (!(guard instanceof RequestGuard)) return this.deps.authenticating(call, callback, guard);
    const started = performance.now();
    try {
      this.deps.gate.enter();
    } catch (err) {
      this.fail(started, err, callback);
      return;
    }
    let bytes = 0;
    try {
      const input = guard.publish(call.request);
      this.deps.budget.take(input.body.length);
      bytes = input.body.length;
      this.deps.writer.append(input).then(
        (id) => {
          this.settle(bytes);
          this.deps.metrics.endCall(this.labels, started, true);
          callback(null, { id });
        },
        (err: unknown) => {
          this.settle(bytes);
          this.fail(started, err, callback);
        },
      );
    } catch (err) {
      this.settle(bytes);
      this.fail(started, err, callback);
    }
  }

  /** Gives back what an admitted call held: its budget bytes (0 when it took none) and its place in the gate. */
  private settle(bytes: number): void {
    if (bytes > 0) this.deps.budget.release(bytes);
    this.deps.gate.leave();
  }

  private fail(started: number, err: unknown, callback: sendUnaryData<PublishResponse>): void {
    this.deps.metrics.endCall(this.labels, started, false, err);
    callback(toWireError(err, this.deps.logger));
  }
}
