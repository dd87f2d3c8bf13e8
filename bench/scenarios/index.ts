// The scenarios bench/run.ts knows, each loaded only when asked for (log needs no gRPC; replication loads
// cassandra-driver).
import type { Scenario } from './scenario.js';

export interface ScenarioEntry {
  readonly summary: string;
  /** The root npm script that runs it, when it has its own (bench:log); else `npm run bench -- <name>`. */
  readonly script?: string;
  load(): Promise<Scenario>;
}

export const SCENARIOS: Readonly<Record<string, ScenarioEntry>> = {
  publish: { summary: 'unary Publish (Node worker threads, or --client ghz)', load: () => import('./publish.js') },
  'publish-stream': {
    summary: 'PublishStream, acks in request order (--client go: bench/loadgen)',
    load: () => import('./publish-stream.js'),
  },
  fetch: { summary: 'Fetch of ids that exist (the subjects are filled first)', load: () => import('./fetch.js') },
  subscribe: {
    summary: 'fan-out: --subscribers live streams on one subject while a publisher runs at --rate; broker RSS sampled',
    load: () => import('./subscribe.js'),
  },
  overload: {
    summary:
      'issue 14: one publisher at --rate alone, then while --subscribers (default 1,000) take every message: its rate and ack p99, deliveries/s, RSS',
    load: () => import('./overload.js'),
  },
  e2e: {
    summary: 'publish-to-delivery latency at --rate, or at half the rate a closed-loop probe reaches',
    load: () => import('./e2e.js'),
  },
  idle: {
    summary: "--subscribers idle Subscribe streams (default 10,000): the broker's RSS with them open",
    load: () => import('./idle.js'),
  },
  mixed: { summary: 'PublishStream publishers + subscribers + Fetch at once', load: () => import('./mixed.js') },
  compare: {
    summary:
      'broker PublishStream and PublishBatch vs NATS JetStream and Redis Streams; unary vs a grpc-js echo server',
    load: () => import('./compare.js'),
  },
  channel: {
    summary:
      'the local channel between workers: Forwarding/Append over a unix socket vs TCP loopback (calls/s, server CPU µs)',
    load: () => import('./channel.js'),
  },
  workers: {
    summary:
      'BROKER_WORKERS=N for each N of --workers-list (1,2; auto = cores): PublishStream, PublishBatch, 1,000-subscriber fan-out, forwarded vs direct publish, broker CPU-µs per message',
    load: () => import('./workers.js'),
  },
  targets: {
    summary:
      'issue 14: every target in one run, each beside its peer (NATS JetStream, the Go peer of bench/loadgen, the disk, a saved bench:log); --only stream,unary,overload,e2e,log',
    load: () => import('./targets.js'),
  },
  log: {
    summary: "the log's group commit against raw LevelDB batches, and a tailing reader",
    script: 'bench:log',
    load: () => import('./log.js'),
  },
  api: {
    summary: 'unary, stream, batch, fetch and subscribe next to a grpc-js echo server',
    script: 'bench:api',
    load: () => import('./api.js'),
  },
  acks: {
    summary: 'publish with BROKER_ACKS=local vs replicated (every commit in the CQL server before its ack)',
    load: () => import('./acks.js'),
  },
  tracing: {
    summary: 'unary Publish with tracing off, at 1% and at 100% sampling (OTLP to a real Jaeger): rate, p99, CPU-µs',
    load: () => import('./tracing.js'),
  },
  security: {
    summary: 'issue 15: unary Publish and PublishStream (bench/loadgen) with TLS + mTLS + a bearer token vs plaintext',
    load: () => import('./security.js'),
  },
  'cluster-acks': {
    summary:
      "issue 13: acks=local vs replicated (a cluster of one on the CQL server) beside NATS JetStream R1 vs R3, and a partition's unavailability during a hand-over (SIGTERM, kill -9)",
    load: () => import('./cluster-acks.js'),
  },
  replication: {
    summary: 'cold-tier writes into the CQL server; publish with and without the background jobs',
    script: 'bench:replication',
    load: () => import('./replication.js'),
  },
};
