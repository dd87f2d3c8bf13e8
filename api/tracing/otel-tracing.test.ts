import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { body, tempLog } from '../../log/test-support/temp-log.js';
import { OtelTracing } from './otel-tracing.js';

describe('OtelTracing with the log (a real LevelDB log, spans kept in memory)', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracing = new OtelTracing(provider);
  before(() => provider.register({ propagator: new W3CTraceContextPropagator() }));
  after(async () => {
    await provider.shutdown();
    context.disable();
  });

  describe('when traced calls append', () => {
    it('should write one group-commit span linking every traced append of the batch, with records, bytes and write time', async () => {
      exporter.reset();
      const t = await tempLog({ tracing, fsync: 'batch' });
      try {
        const calls = ['a', 'b', 'c'].map((name) => tracing.start(`call ${name}`));
        await Promise.all(
          calls.map((span, i) =>
            tracing.within(span, () => t.log.append({ subject: 'traced', body: body(`m${i}`), expirationSeconds: 0 })),
          ),
        );
        // An untraced append in a batch of its own: no span for it.
        await t.log.append({ subject: 'traced', body: body('plain'), expirationSeconds: 0 });
        for (const span of calls) span.end();
      } finally {
        await t.dispose();
      }
      const spans = exporter.getFinishedSpans();
      const commits = spans.filter((s) => s.name === 'log.group_commit');
      const callIds = spans.filter((s) => s.name.startsWith('call ')).map((s) => s.spanContext().spanId);
      assert.equal(commits.length, 1, 'the three appends of one turn share one commit; the untraced one has no span');
      const commit = commits[0];
      assert.deepEqual(commit?.links.map((l) => l.context.spanId).sort(), [...callIds].sort());
      assert.equal(commit?.parentSpanContext?.spanId, commit?.links[0]?.context.spanId, 'its parent is its first link');
      assert.equal(commit?.attributes['records'], 3);
      assert.equal(commit?.attributes['bytes'], 6);
      assert.equal(commit?.attributes['fsync'], true);
      assert.equal(typeof commit?.attributes['write_seconds'], 'number');
    });
  });

  describe('when a span is active', () => {
    it('should give its ids for the log line, and none outside it', () => {
      const span = tracing.start('call');
      const ids = tracing.within(span, () => tracing.activeIds());
      span.end();
      assert.match(ids?.trace_id ?? '', /^[0-9a-f]{32}$/);
      assert.match(ids?.span_id ?? '', /^[0-9a-f]{16}$/);
      assert.equal(tracing.activeIds(), undefined);
      assert.equal(tracing.capture(), undefined, 'nothing to link outside a span');
    });
  });
});
