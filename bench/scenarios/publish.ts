// npm run bench -- publish: unary Publish, from Node worker threads or (--client ghz) a native client.
import { ghzUnary } from '../support/ghz.js';
import type { LoadResult } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { measured } from '../support/workers.js';
import { BrokerBench, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

async function publishUnary(b: BrokerBench, t: Target, label = 'broker'): Promise<LoadResult> {
  const s = b.s;
  if (s.client === 'ghz') {
    const name = `${label}: unary Publish, ghz 1 conn x ${s.inflight}${s.rate > 0 ? ` at ${s.rate}/s` : ''}`;
    return measured(() =>
      ghzUnary({
        name,
        host: t.host,
        port: t.port,
        call: 'broker.Broker/Publish',
        data: { subject: 'bench.unary', body: Buffer.alloc(s.payload, 1).toString('base64'), expirationSeconds: 0 },
        concurrency: s.inflight,
        seconds: s.seconds,
        payloadBytes: s.payload,
        ...(s.rate > 0 ? { rps: s.rate } : {}),
      }),
    );
  }
  return b.run(`${label}: unary Publish, ${b.model()}`, b.tasks('unary', t, 'bench.unary'));
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('publish', [await b.onBroker((t) => publishUnary(b, t))]);
}
