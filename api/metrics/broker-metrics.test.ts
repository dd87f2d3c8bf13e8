import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { InvalidArgumentError } from '../../core/index.js';
import { BrokerMetrics } from './broker-metrics.js';
import { registerServerGauges } from './server-gauges.js';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('broker metrics', () => {
  it('counts failed calls by method and reason; anything not a broker error is INTERNAL', async () => {
    const metrics = new BrokerMetrics();
    metrics.startCall('Publish')(false, new InvalidArgumentError('subject', 'empty'));
    metrics.startCall('Publish')(false, new InvalidArgumentError('subject', 'too long'));
    metrics.startCall('Fetch')(false, new Error('a broken invariant'));
    metrics.startCall('Fetch')(true);
    const text = await metrics.registry.metrics();
    assert.equal(value(text, 'broker_errors_total{method="Publish",reason="INVALID_ARGUMENT"}'), 2);
    assert.equal(value(text, 'broker_errors_total{method="Fetch",reason="INTERNAL"}'), 1);
    assert.equal(value(text, 'method_count{method="Fetch",success="true"}'), 1);
    assert.ok((value(text, 'broker_event_loop_utilization') ?? -1) >= 0);
  });

  it("reads connections and the data dir's file system at scrape time", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'metrics-'));
    try {
      const registry = new Registry();
      let counts = { open: 3, refused: 1, closedInHandshake: 0 };
      registerServerGauges(registry, () => counts, dir);
      let text = await registry.metrics();
      assert.equal(value(text, 'broker_connections_open'), 3);
      assert.equal(value(text, 'broker_connections_closed_total{why="limit"}'), 1);
      const free = value(text, 'broker_storage_free_bytes') ?? 0;
      const size = value(text, 'broker_storage_size_bytes') ?? 0;
      assert.ok(free > 0 && size >= free, `free ${free} of ${size}`);
      counts = { open: 1, refused: 4, closedInHandshake: 2 };
      text = await registry.metrics();
      assert.equal(value(text, 'broker_connections_open'), 1);
      assert.equal(value(text, 'broker_connections_closed_total{why="limit"}'), 4);
      assert.equal(value(text, 'broker_connections_closed_total{why="handshake"}'), 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
