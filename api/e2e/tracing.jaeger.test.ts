import { credentials } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { partitionOf, workerOf } from '../../core/index.js';
import { BrokerClient } from '../../proto/gen/broker.js';
import { publish, startBrokerProcess, type BrokerProcess } from '../test-support/broker-process.js';
import { startJaeger, type Jaeger, type JaegerSpan, type JaegerTrace } from '../test-support/jaeger.js';

const PUBLISH = 'broker.Broker/Publish';
const COMMIT = 'log.group_commit';
const FORWARD_APPEND = 'forward broker.internal.Forwarding/Append';
const APPEND = 'broker.internal.Forwarding/Append';

/** Every broker span sampled, exported within 100 ms, to the test's Jaeger under a service name of its own. */
function tracedEnv(jaeger: Jaeger, service: string): Record<string, string> {
  return {
    BROKER_TRACE_SAMPLE_RATIO: '1',
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
    OTEL_SERVICE_NAME: service,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

/** Polls Jaeger until `done` holds for the service's spans (export and ingestion are asynchronous). */
async function spansWhen(
  jaeger: Jaeger,
  service: string,
  done: (spans: JaegerSpan[], traces: JaegerTrace[]) => boolean,
): Promise<{ spans: JaegerSpan[]; traces: JaegerTrace[] }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const traces = await jaeger.traces(service);
    const spans = traces.flatMap((t) => t.spans);
    if (done(spans, traces)) return { spans, traces };
    if (Date.now() > deadline)
      assert.fail(`Jaeger never held the expected spans; it has: ${spans.map((s) => s.operationName).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

/** The spans a span points to: its parent and its links. */
function referenced(span: JaegerSpan): string[] {
  return span.references.map((r) => r.spanID);
}

function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

describe('tracing (OpenTelemetry → a real Jaeger, read back through its HTTP query API)', () => {
  let jaeger: Jaeger;
  before(async () => {
    jaeger = await startJaeger();
  });
  after(async () => {
    await jaeger?.dispose();
  });

  describe('when a broker of one process takes publishes', () => {
    it('should record a span per Publish and a group-commit span linking the publishes it wrote', async () => {
      const broker: BrokerProcess = await startBrokerProcess({ ...tracedEnv(jaeger, 'one'), BROKER_WORKERS: '1' });
      try {
        const client = broker.client();
        const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => publish(client, 'traced', `m${i}`)));
        assert.equal(ids.length, 8);
        const { spans } = await spansWhen(jaeger, 'one', (all) => {
          const publishes = new Set(all.filter((s) => s.operationName === PUBLISH).map((s) => s.spanID));
          const linked = new Set(all.filter((s) => s.operationName === COMMIT).flatMap(referenced));
          return publishes.size === 8 && [...publishes].every((id) => linked.has(id));
        });
        const commits = spans.filter((s) => s.operationName === COMMIT);
        for (const commit of commits) {
          assert.ok(Number(tag(commit, 'records')) >= 1, 'a commit span says how many records it wrote');
          assert.ok(Number(tag(commit, 'bytes')) >= 2, 'and their bytes');
          assert.equal(typeof tag(commit, 'write_seconds'), 'number', 'and how long the (synced) write took');
          assert.equal(tag(commit, 'fsync'), true);
          // Its parent is the first publish it links (Jaeger shows that one reference as FOLLOWS_FROM too), so it
          // sits in that publish's trace; the other publishes' traces point to it through their links.
          assert.equal(commit.references[0]?.traceID, commit.traceID, "it is in its first publish's trace");
        }
      } finally {
        await broker.dispose();
      }
    });
  });

  describe('when a publish reaches a worker that does not own its subject (BROKER_WORKERS=2)', () => {
    it('should continue the trace in the owner: Publish → forward Append → Append → group commit', async () => {
      const broker = await startBrokerProcess({
        ...tracedEnv(jaeger, 'two'),
        BROKER_WORKERS: '2',
        BROKER_PARTITIONS: '4',
      });
      const clients: BrokerClient[] = [];
      try {
        // Connections of their own land on both workers in turn, and subjects of both owners: some publishes are
        // forwarded whichever worker took which connection.
        const subjects = ['t0', 't1', 't2', 't3', 't4', 't5'];
        assert.ok(new Set(subjects.map((s) => workerOf(partitionOf(s, 4), 2))).size === 2);
        for (let i = 0; i < 4; i++)
          clients.push(
            new BrokerClient(broker.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
          );
        for (const client of clients) for (const s of subjects) await publish(client, s, 'x');
        const { spans } = await spansWhen(jaeger, 'two', (all) => {
          const byId = new Map(all.map((s) => [s.spanID, s]));
          return all.some(
            (s) => s.operationName === APPEND && byId.get(parentOf(s) ?? '')?.operationName === FORWARD_APPEND,
          );
        });
        const byId = new Map(spans.map((s) => [s.spanID, s]));
        const append = spans.find(
          (s) => s.operationName === APPEND && byId.get(parentOf(s) ?? '')?.operationName === FORWARD_APPEND,
        );
        assert.ok(append !== undefined);
        const forward = byId.get(parentOf(append) ?? '');
        const origin = byId.get(parentOf(forward as JaegerSpan) ?? '');
        assert.equal(origin?.operationName, PUBLISH, 'the forwarded Append is a child of the Publish that caused it');
        assert.notEqual(origin?.processID, append.processID, 'the Publish and the Append ran in different workers');
        assert.equal(append.traceID, origin?.traceID, 'one trace across both processes');
        await spansWhen(jaeger, 'two', (all) =>
          all.some((s) => s.operationName === COMMIT && referenced(s).includes(append.spanID)),
        );
      } finally {
        for (const c of clients) c.close();
        await broker.dispose();
      }
    });
  });
});
