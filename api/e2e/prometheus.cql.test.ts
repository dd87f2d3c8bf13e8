import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  randomKeyspace,
  randomName,
  randomQueueName,
  testCqlContactPoints,
  testCqlLocalDc,
  testRedisUrl,
} from '../../test-support/services.js';
import {
  failure,
  metricValue,
  publish,
  startBrokerProcess,
  subscribe,
  type BrokerProcess,
} from '../test-support/broker-process.js';
import { until } from '../../test-support/until.js';
import { startPrometheus, type Prometheus } from '../test-support/prometheus.js';

const MONITORING = fileURLToPath(new URL('../../manifests/base/monitoring/', import.meta.url));
const RULES = join(MONITORING, 'rules', 'broker.rules.yaml');
/** Grafana's $__rate_interval, for a Prometheus that scrapes every second: several samples per window. */
const RATE_INTERVAL = '10s';

interface Rule {
  readonly alert: string;
  readonly expr: string;
}

/** An instant query through the HTTP API: the result vector, or the error Prometheus answered. */
async function query(url: string, promql: string): Promise<{ status: string; error?: string; result: unknown[] }> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  return {
    status: body.status,
    ...(body.error === undefined ? {} : { error: body.error }),
    result: body.data?.result ?? [],
  };
}

/** An alert's expression without its threshold, so it returns the series whether or not the alert would fire. */
function withoutComparison(expr: string): string {
  return expr.trim().replace(/\s*(==|!=|>=|<=|>|<)\s*[0-9.e+-]+$/, '');
}

describe('Prometheus against a real broker: every dashboard query and alert expression returns data', () => {
  let broker: BrokerProcess;
  let prometheus: Prometheus;
  let dir: string;
  let load: Promise<void> | undefined;
  let stopLoad = false;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prometheus-e2e-'));
    // A cluster of one with the cold tier and the jobs, so the cluster, replication and job series exist too;
    // small segments so some seal and replicate, and a small subject limit so STORAGE_FULL can be provoked.
    broker = await startBrokerProcess({
      BROKER_WORKERS: '1',
      BROKER_CLUSTER: randomName('prom'),
      BROKER_ID: 'b0',
      BROKER_PARTITIONS: '4',
      BROKER_LEASE: '3s',
      BROKER_MAX_CLOCK_DRIFT: '200ms',
      BROKER_SEGMENT_MAX_RECORDS: '50',
      BROKER_MAX_SUBJECT_BYTES: '65536',
      SCYLLA_CONTACT_POINTS: testCqlContactPoints().join(','),
      SCYLLA_LOCAL_DC: testCqlLocalDc(),
      SCYLLA_KEYSPACE: randomKeyspace('prom'),
      REDIS_URL: testRedisUrl(),
      BROKER_QUEUE_PREFIX: randomQueueName('prom'),
    });
    await until('the partitions acquired', async () => {
      return (metricValue(await broker.metrics(), 'broker_partitions_owned') ?? 0) === 4;
    });
    prometheus = await startPrometheus(dir, broker.metricsPort, { ruleFiles: [RULES] });
  });

  after(async () => {
    stopLoad = true;
    await load;
    await prometheus?.stop();
    await broker?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('scrapes a broker under load, then evaluates every panel query and alert expression', async () => {
    const client = broker.client();
    const sub = await subscribe(client, 'prom.a');
    // A light, steady load for the rates: a publish every 20 ms over three subjects, delivered to one subscriber.
    load = (async () => {
      for (let i = 0; !stopLoad; i++) {
        await publish(client, `prom.${'abc'[i % 3] ?? 'a'}`, `m${i}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // Errors by reason: a client's (INVALID_ARGUMENT) and the broker's (STORAGE_FULL: the subject limit).
    await assert.rejects(publish(client, '', 'x'));
    const big = Buffer.alloc(16 * 1024);
    await until('STORAGE_FULL', async () => {
      try {
        await publish(client, 'prom.full', big);
        return false;
      } catch (err) {
        assert.equal(failure(err).reason, 'STORAGE_FULL');
        return true;
      }
    });
    await sub.waitFor(10);
    await until('15 scrapes', async () => {
      const r = await query(prometheus.url, 'count_over_time(up{job="broker"}[1m]) >= 15');
      return r.result.length === 1;
    });

    const dashboard = JSON.parse(await readFile(join(MONITORING, 'dashboards', 'broker.json'), 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const rules = (parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap(
      (g) => g.rules,
    );
    const queries = [
      ...dashboard.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({
          what: `panel "${p.title}"`,
          promql: t.expr.replaceAll('$__rate_interval', RATE_INTERVAL),
        })),
      ),
      ...rules.map((r) => ({ what: `alert ${r.alert}`, promql: withoutComparison(r.expr) })),
    ];
    assert.ok(queries.length > 40, `${queries.length} queries`);
    const empty: string[] = [];
    for (const { what, promql } of queries) {
      const r = await query(prometheus.url, promql);
      assert.equal(r.status, 'success', `${what}: ${promql}: ${r.error ?? ''}`);
      if (r.result.length === 0) empty.push(`${what}: ${promql}`);
    }
    assert.deepEqual(empty, [], 'queries that returned no series (a typo, or a metric the broker does not have)');

    // Prometheus loaded the same rule file and evaluates every rule without error.
    const res = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
    };
    const loaded = res.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, rules.length);
    for (const r of loaded) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
  });
});
