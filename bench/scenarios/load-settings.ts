// The options of the gRPC load scenarios (publish, publish-stream, fetch, subscribe, e2e, idle, mixed, compare).
//   --connections N  worker threads, each with its own channel (default 2)
//   --inflight N     operations outstanding per connection, closed model (default 64)
//   --rate N         total operations/s, open model: scheduled at fixed intervals, latency from the scheduled time
//   --duration S     seconds per measurement (default 10; --seconds is the same)   --payload B   body bytes (default 1024)
//   --subjects N     spread operations round-robin over N subjects (default 1)
//   --subscribers N  streams for subscribe / idle / mixed        --fsync batch|never (default batch)
//   --target H:P     an existing broker (default: start one from the build on a free port and a temp data dir)
//   --client node|ghz|go  load generator: ghz for unary publish/fetch; go (bench/loadgen, a native client:
//                    grpc-go, nats.go, rueidis) for publish-stream, subscribe and e2e (publisher and subscribers in
//                    one process, one clock) and the compare rows of PublishStream, NATS and Redis
//                    (default node: worker threads)
//   --warmup S       node: the first S seconds count in rates but not in latency percentiles (default 2: cold JIT);
//                    go: S seconds run first and count in neither, then --duration S is measured
import { parseArgs } from 'node:util';
import { setQuiet } from '../support/workers.js';
import { COMMON_OPTIONS } from './scenario.js';

export type LoadClient = 'node' | 'ghz' | 'go';

export interface LoadSettings {
  readonly seconds: number;
  readonly payload: number;
  readonly inflight: number;
  /** Total operations/s (open model); 0 = closed loop. */
  readonly rate: number;
  readonly connections: number;
  readonly subjects: number;
  /** --subscribers as given; each scenario has its own default. */
  readonly subscribers: number | undefined;
  readonly fsync: string;
  readonly target: string | undefined;
  readonly client: LoadClient;
  readonly warmup: number;
}

export function parseLoadSettings(args: string[]): LoadSettings {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON_OPTIONS,
      connections: { type: 'string', default: '2' },
      inflight: { type: 'string', default: '64' },
      rate: { type: 'string', default: '0' },
      duration: { type: 'string' },
      seconds: { type: 'string' },
      payload: { type: 'string', default: '1024' },
      subjects: { type: 'string', default: '1' },
      subscribers: { type: 'string' },
      fsync: { type: 'string', default: 'batch' },
      target: { type: 'string' },
      client: { type: 'string', default: 'node' },
      warmup: { type: 'string', default: '2' },
    },
  });
  setQuiet(values.json);
  return {
    seconds: Number.parseFloat(values.duration ?? values.seconds ?? '10'),
    payload: Number(values.payload),
    inflight: Math.max(1, Number(values.inflight)),
    rate: Number(values.rate),
    connections: Math.max(1, Number(values.connections)),
    subjects: Math.max(1, Number(values.subjects)),
    subscribers: values.subscribers === undefined ? undefined : Number(values.subscribers),
    fsync: values.fsync,
    target: values.target,
    client: values.client === 'ghz' ? 'ghz' : values.client === 'go' ? 'go' : 'node',
    warmup: Math.max(0, Number(values.warmup)),
  };
}
