// npm run bench -- subscribe: fan-out. --subscribers live streams on one subject while a publisher runs at --rate;
// the broker's RSS is sampled every second (flat-memory check). --client go runs publisher and subscribers in one
// native process (bench/loadgen), timed by one clock.
import { loadgen, loadgenRow } from '../support/loadgen.js';
import { sampleRss } from '../support/processes.js';
import { cpuMark, waitForQuiet } from '../support/quiet.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { startWorkers, summarize, withProgress } from '../support/workers.js';
import { BrokerBench, cpuNote, rssNote, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

/** Live subscribers on one subject while one PublishStream publisher runs at `rate` (open model). */
export async function fanOut(b: BrokerBench, t: Target, count: number, rate: number, label: string): Promise<Row[]> {
  const s = b.s;
  if (s.client === 'go') return fanOutGo(b, t, count, rate, label);
  const busy = await waitForQuiet();
  const subs = startWorkers(b.subscribers(t, 'bench.fan', count, s.seconds + 3));
  await subs.ready;
  const mark = cpuMark();
  const rss = t.pid === undefined ? undefined : sampleRss(t.pid);
  const pub = startWorkers(
    b
      .tasks('stream', t, 'bench.fan', { rate, connections: 1, inflight: 1024 })
      .map((x) => ({ ...x, subject: 'bench.fan', subjects: 1 })),
  );
  const published = await withProgress(
    `${label}: publishing`,
    s.seconds,
    pub,
    pub.done,
    () => `, delivered ${subs.current().toLocaleString('en')}`,
  );
  const delivered = await withProgress(`${label}: draining`, 3, subs, subs.done);
  const mem = rss?.stop();
  const cpu = cpuNote(mark, busy);
  const p = summarize(
    `${label}: publisher, ${rate > 0 ? `${rate.toLocaleString('en')}/s` : 'closed loop'}`,
    published,
    s.payload,
  );
  const expected = p.ops * count;
  const d = summarize(
    `${label}: deliveries to ${count.toLocaleString('en')} subscriber(s), publish-to-delivery latency`,
    delivered,
    s.payload,
    s.seconds,
  );
  return [
    p,
    {
      ...d,
      ratio: `${((d.ops / Math.max(1, expected)) * 100).toFixed(1)}% of ${expected.toLocaleString('en')} expected deliveries${rssNote(mem)}; ${cpu}`,
    },
  ];
}

/** fanOut with loadgen's e2e mode. Subscribers: up to 250 streams per HTTP/2 connection. */
async function fanOutGo(b: BrokerBench, t: Target, count: number, rate: number, label: string): Promise<Row[]> {
  const s = b.s;
  const busy = await waitForQuiet();
  const mark = cpuMark();
  const rss = t.pid === undefined ? undefined : sampleRss(t.pid);
  const r = await loadgen({
    mode: 'e2e',
    host: t.host,
    port: t.port,
    subject: 'bench.fan',
    rate,
    inflight: 1024,
    connections: Math.max(1, Math.ceil(count / 250)),
    streams: count,
    seconds: s.seconds,
    warmup: s.warmup,
    payload: s.payload,
  });
  const memNote = rssNote(rss?.stop());
  const cpu = cpuNote(mark, busy);
  const expected = r.expected ?? 0;
  const publisher = loadgenRow(
    `${label} (loadgen): publisher, ${rate > 0 ? `${rate.toLocaleString('en')}/s` : 'closed loop'}`,
    r.publisher ?? r,
    r,
  );
  const deliveries = loadgenRow(
    `${label} (loadgen): deliveries to ${count.toLocaleString('en')} subscriber(s), publish-to-delivery latency`,
    r,
    { ...r, unsent: 0, unacked: 0 },
  );
  const share = `${((r.deliveredFraction ?? 0) * 100).toFixed(1)}% of ${expected.toLocaleString('en')} expected deliveries (messages sent after the warm-up x subscribers) in by 5 s after the end`;
  return [publisher, { ...deliveries, ratio: `${share}${memNote}; ${cpu}` }];
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  const count = b.s.subscribers ?? 100;
  const rate = b.s.rate > 0 ? b.s.rate : 1000;
  return b.result('subscribe', await b.onBroker((t) => fanOut(b, t, count, rate, 'fan-out')));
}
