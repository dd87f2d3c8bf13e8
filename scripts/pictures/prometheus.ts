import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, until } from './util.js';

export interface Prometheus {
  readonly url: string;
  stop(): Promise<void>;
}

export interface Series {
  readonly metric: Record<string, string>;
  /** [unix seconds, value as Prometheus writes it] */
  readonly values: ReadonlyArray<[number, string]>;
}

/**
 * Debian's Prometheus (scripts/tools.sh prometheus) scraping the broker's /metrics every second, as instance
 * `broker-0` so legends read as they would on a cluster rather than as a loopback port.
 */
export async function startPrometheus(dir: string, metricsPort: number): Promise<Prometheus> {
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [
      {
        job_name: 'broker',
        static_configs: [{ targets: [`127.0.0.1:${metricsPort}`], labels: { instance: 'broker-0' } }],
      },
    ],
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await until('Prometheus is ready', async () => (await fetch(`${url}/-/ready`)).ok);
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
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
