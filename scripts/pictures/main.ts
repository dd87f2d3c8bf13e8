/**
 * The README's pictures (issue 16), run by scripts/pictures.sh (which installs what this needs):
 *   docs/images/dashboard.png     the Grafana dashboard's panels' queries, from a real Prometheus, charted with uPlot
 *   docs/images/jaeger-trace.png  one forwarded publish's trace in Jaeger's UI
 * A broker of two workers with every call traced takes a light load for LOAD_SECONDS (30) while Prometheus scrapes
 * it every second and Jaeger receives its spans; headless Chromium (Debian's, driven by playwright-core) takes both.
 */
import { credentials } from '@grpc/grpc-js';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { BrokerClient } from '../../proto/gen/broker.js';
import { publish, startBrokerProcess, subscribe, type BrokerProcess } from '../../api/test-support/broker-process.js';
import { chartPage, dashboardCharts } from './dashboard-page.js';
import { forwardedPublishTrace, startJaeger, type JaegerWithUi } from './jaeger-ui.js';
import { scrapes, startPrometheus, type Prometheus } from './prometheus.js';
import { until } from './util.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = process.env.PICTURES_DIR ?? join(ROOT, 'docs', 'images');
const UI_ASSETS = process.env.JAEGER_UI_ASSETS ?? join(ROOT, '.tools', 'jaeger-ui');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const LOAD_SECONDS = Number(process.env.LOAD_SECONDS ?? '30');
const SERVICE = 'logbroker'; // the default service name (README: Trace), set here for clarity
const VIEWPORT = { width: 1400, height: 900 };
const SUBJECTS = ['orders.eu', 'orders.us', 'payments', 'audit', 'shipments', 'invoices'];

/**
 * Eight publishers, each on a connection of its own (so both workers take calls and forward what the other owns),
 * awaiting each ack then pausing 5-25 ms; a subscriber on each of three subjects; every 2 s a publish with an empty
 * subject, so "Errors by reason" has a client's error to show. A few hundred publishes a second: a light load.
 */
async function runLoad(broker: BrokerProcess, seconds: number): Promise<number> {
  const clients = Array.from(
    { length: 8 },
    () => new BrokerClient(broker.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  );
  const subscriptions = await Promise.all(
    SUBJECTS.slice(0, 3).map((s, i) => subscribe(clients[i] ?? broker.client(), s)),
  );
  const deadline = Date.now() + seconds * 1000;
  let published = 0;
  const publisher = async (client: BrokerClient, n: number): Promise<void> => {
    for (let i = 0; Date.now() < deadline; i++) {
      const subject = SUBJECTS[(n + i) % SUBJECTS.length] ?? 'audit';
      await publish(client, subject, JSON.stringify({ n, i, at: Date.now() }));
      published++;
      await new Promise((r) => setTimeout(r, 5 + ((n * 7 + i) % 20)));
    }
  };
  const bad = setInterval(() => void publish(broker.client(), '', 'no subject').catch(() => undefined), 2000);
  try {
    await Promise.all(clients.map((c, n) => publisher(c, n)));
  } finally {
    clearInterval(bad);
    for (const s of subscriptions) s.stream.cancel();
    for (const c of clients) c.close();
  }
  return published;
}

async function dashboardPicture(
  browser: Browser,
  prometheus: Prometheus,
  load: { start: number; end: number },
): Promise<string> {
  // From 10 s into the load (the rates' window is full by then) to its end.
  const range = { start: Math.floor(load.start / 1000) + 10, end: Math.floor(load.end / 1000), step: 1 };
  const charts = await dashboardCharts(prometheus, range);
  if (charts.length < 9) throw new Error(`only ${charts.length} panels had data`);
  const page = await browser.newPage({ viewport: VIEWPORT });
  const caption = `dashboard "logbroker" (manifests/base/monitoring/dashboards/broker.json): its queries over ${range.end - range.start} s of a light load, from Prometheus, scraping a broker of 2 workers every second`;
  await page.setContent(await chartPage(charts, caption));
  await page.waitForSelector(`body[data-drawn="${charts.length}"]`);
  const file = join(OUT, 'dashboard.png');
  await page.screenshot({ path: file });
  await page.close();
  return file;
}

async function tracePicture(browser: Browser, jaeger: JaegerWithUi): Promise<string> {
  let traceId = '';
  await until('Jaeger holds a forwarded publish', async () => {
    traceId = await forwardedPublishTrace(jaeger, SERVICE);
    return true;
  });
  // Shorter than the dashboard's: the trace's rows with two details open end about there.
  const page = await browser.newPage({ viewport: { width: VIEWPORT.width, height: 680 } });
  await page.goto(`${jaeger.url}/trace/${traceId}`);
  // The span rows are drawn once the trace has loaded. Open the details of the Append in the owning worker (its
  // process) and of the group commit that wrote the record (records, bytes, fsync time), bottom one first so the
  // upper row stays where it was.
  const commit = page.getByText('log.group_commit', { exact: true }).first();
  await commit.waitFor({ timeout: 30_000 });
  await commit.click();
  await page.getByText('broker.internal.Forwarding/Append', { exact: true }).first().click();
  await page.waitForTimeout(500);
  const file = join(OUT, 'jaeger-trace.png');
  await page.screenshot({ path: file });
  await page.close();
  return file;
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'pictures-'));
  const jaeger = await startJaeger(UI_ASSETS);
  const stops: Array<() => Promise<unknown>> = [() => jaeger.stop()];
  try {
    const broker = await startBrokerProcess({
      BROKER_WORKERS: '2',
      BROKER_PARTITIONS: '4',
      BROKER_TRACE_SAMPLE_RATIO: '1',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    stops.unshift(() => broker.dispose());
    const prometheus = await startPrometheus(dir, broker.metricsPort);
    stops.unshift(() => prometheus.stop());
    await until('Prometheus has scraped the broker', async () => (await scrapes(prometheus)) > 0);
    const loadStart = Date.now();
    const published = await runLoad(broker, LOAD_SECONDS);
    const loadEnd = Date.now();
    console.log(`load: ${published} publishes in ${LOAD_SECONDS} s`);
    await new Promise((r) => setTimeout(r, 2000)); // a last scrape or two, the last spans exported
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    stops.unshift(() => browser.close());
    console.log(`wrote ${await dashboardPicture(browser, prometheus, { start: loadStart, end: loadEnd })}`);
    console.log(`wrote ${await tracePicture(browser, jaeger)}`);
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => console.error(err));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
