// npm run bench -- e2e: publish-to-delivery latency timed by the receiver (timestamp in the body) at --rate, or at
// half the rate a closed-loop probe reaches when --rate is not given. Target: p99 < 10 ms.
import { loadgen, loadgenRow } from '../support/loadgen.js';
import type { Row } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { limitVerdict } from '../support/verdict.js';
import { BrokerBench, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';
import { fanOut } from './subscribe.js';

const P99_TARGET_MS = 10;

async function probe(b: BrokerBench, t: Target): Promise<Row> {
  if (b.s.client === 'go') {
    const r = await loadgen({
      mode: 'stream',
      host: t.host,
      port: t.port,
      subject: 'bench.probe',
      rate: 0,
      inflight: 256,
      connections: 1,
      seconds: 5,
      warmup: 1,
      payload: b.s.payload,
    });
    return loadgenRow('e2e (loadgen): max-rate probe (PublishStream, 1 conn x 256, no subscriber)', r, r);
  }
  return b.run(
    'e2e: max-rate probe (PublishStream, 1 conn x 256, no subscriber)',
    b.tasks('stream', t, 'bench.probe', { connections: 1, seconds: 3, inflight: 256 }),
    3,
  );
}

async function e2e(b: BrokerBench, t: Target): Promise<Row[]> {
  let rate = b.s.rate;
  const rows: Row[] = [];
  if (rate <= 0) {
    const p = await probe(b, t);
    rows.push({ ...p, ratio: 'probe' });
    rate = Math.max(100, Math.round(p.opsPerSec / 2 / 100) * 100);
  }
  const [pub, del] = await fanOut(b, t, 1, rate, `e2e at ${rate.toLocaleString('en')}/s`);
  if (pub === undefined || del === undefined) throw new Error('fanOut returned no publisher and delivery rows');
  const verdict = limitVerdict(del.p99Ms, P99_TARGET_MS);
  rows.push(pub, {
    ...del,
    ratio: `p99 ${del.p99Ms.toFixed(2)} ms (target < ${P99_TARGET_MS} ms: ${verdict}); ${del.ratio ?? ''}`,
  });
  return rows;
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('e2e', await b.onBroker((t) => e2e(b, t)));
}
