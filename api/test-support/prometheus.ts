import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../test-support/ports.js';
import { until } from '../../test-support/until.js';

export interface Prometheus {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Debian's Prometheus (scripts/tools.sh prometheus) on a free loopback port, scraping a broker's /metrics every
 * second as job `broker`, evaluating `ruleFiles`; `instance` relabels the target (legends then read as on a
 * cluster rather than as a loopback port). Resolves once Prometheus says it is ready.
 */
export async function startPrometheus(
  dir: string,
  metricsPort: number,
  options: { ruleFiles?: readonly string[]; instance?: string } = {},
): Promise<Prometheus> {
  const port = await freePort();
  const target = {
    targets: [`127.0.0.1:${metricsPort}`],
    ...(options.instance === undefined ? {} : { labels: { instance: options.instance } }),
  };
  const config = {
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: [{ job_name: 'broker', static_configs: [target] }],
  };
  await writeFile(join(dir, 'prometheus.yml'), JSON.stringify(config));
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await until('Prometheus is ready', async () => (await fetch(`${url}/-/ready`)).ok);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
