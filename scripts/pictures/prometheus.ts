import { startPrometheus as startScraping, type Prometheus } from '../../api/test-support/prometheus.js';

export type { Prometheus };

export interface Series {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as Prometheus writes it] */
  readonly values: ReadonlyArray<[number, string]>;
}

/** Prometheus scraping the broker as instance `broker-0`, so legends read as they would on a cluster. */
export function startPrometheus(dir: string, metricsPort: number): Promise<Prometheus> {
  return startScraping(dir, metricsPort, { instance: 'broker-0' });
}

/** A range query through the HTTP API; a query Prometheus refuses fails the run (it would be a broken panel). */
export async function queryRange(
  prometheus: Prometheus,
  promql: string,
  range: { start: number; end: number; step: number },
): Promise<Series[]> {
  const params = new URLSearchParams({
    query: promql,
    start: String(range.start),
    end: String(range.end),
    step: String(range.step),
  });
  const res = await fetch(`${prometheus.url}/api/v1/query_range?${params.toString()}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error ?? res.status}`);
  return body.data?.result ?? [];
}

/** How many samples of `up` Prometheus holds for the broker (to wait for enough history). */
export async function scrapes(prometheus: Prometheus): Promise<number> {
  const res = await fetch(
    `${prometheus.url}/api/v1/query?query=${encodeURIComponent('count_over_time(up{job="broker"}[5m])')}`,
  );
  const body = (await res.json()) as { data?: { result: Array<{ value: [number, string] }> } };
  return Number(body.data?.result[0]?.value[1] ?? 0);
}
