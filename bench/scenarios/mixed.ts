// npm run bench -- mixed: PublishStream publishers, subscribers and Fetch at once.
import type { WorkerTask } from '../support/load-worker.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { startWorkers, summarize, withProgress } from '../support/workers.js';
import { BrokerBench, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

async function mixed(b: BrokerBench, t: Target): Promise<Row[]> {
  const s = b.s;
  const n = s.subscribers ?? 10;
  const subs = startWorkers(b.subscribers(t, 'bench.mixed', n, s.seconds + 5));
  await subs.ready;
  const fetchers: WorkerTask[] = [
    {
      kind: 'fetch',
      host: t.host,
      port: t.port,
      subject: 'bench.mixed',
      subjects: 1,
      seconds: s.seconds,
      inflight: 16,
      payload: s.payload,
      rate: 0,
      maxId: 500,
    },
  ];
  const pubTasks = b
    .tasks('stream', t, 'bench.mixed', { connections: 1 })
    .map((x) => ({ ...x, subject: 'bench.mixed', subjects: 1 }));
  // The fetchers start once the publisher has written the ids they ask for.
  const pub = startWorkers(pubTasks);
  await new Promise((r) => setTimeout(r, 1000));
  const fw = startWorkers(fetchers);
  const [published, fetched] = await withProgress('mixed', s.seconds, pub, Promise.all([pub.done, fw.done]));
  const delivered = await subs.done;
  return [
    summarize(`mixed: PublishStream, ${b.model(s.inflight, 0, 1)}`, published, s.payload),
    summarize('mixed: Fetch, 1 conn x 16 in flight', fetched, s.payload),
    summarize(`mixed: deliveries to ${n} subscriber(s)`, delivered, s.payload, s.seconds),
  ];
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('mixed', await b.onBroker((t) => mixed(b, t)));
}
