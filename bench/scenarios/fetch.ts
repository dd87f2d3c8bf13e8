// npm run bench -- fetch: Fetch of ids that exist (the subjects are filled first).
import { ghzUnary } from '../support/ghz.js';
import type { WorkerTask } from '../support/load-worker.js';
import type { LoadResult } from '../support/report.js';
import type { ScenarioResult } from '../support/result.js';
import { measured } from '../support/workers.js';
import { BrokerBench, type Target } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

/** Messages every subject holds before the measurement, so every id asked for exists. */
const PER_SUBJECT = 5000;

async function fetch(b: BrokerBench, t: Target): Promise<LoadResult> {
  const s = b.s;
  const fill = Array.from({ length: s.subjects }, (_, i) => ({
    kind: 'stream' as const,
    host: t.host,
    port: t.port,
    subject: s.subjects > 1 ? `bench.fetch.${i}` : 'bench.fetch',
    subjects: 1,
    seconds: 600,
    inflight: 256,
    payload: s.payload,
    rate: 0,
  }));
  // A closed loop for a bounded time cannot stop at a count, so fill at a known rate instead: 5,000 per subject.
  const fillSeconds = Math.max(2, Math.ceil((PER_SUBJECT * s.subjects) / 10_000));
  await b.run(
    'fill for fetch',
    fill.map((f) => ({ ...f, seconds: fillSeconds, rate: PER_SUBJECT / fillSeconds + 1 })),
    fillSeconds,
  );
  if (s.client === 'ghz') {
    return measured(() =>
      ghzUnary({
        name: `Fetch, ghz 1 conn x ${s.inflight}`,
        host: t.host,
        port: t.port,
        call: 'broker.Broker/Fetch',
        data: { subject: 'bench.fetch', id: `{{add (mod .RequestNumber ${PER_SUBJECT}) 1}}` },
        concurrency: s.inflight,
        seconds: s.seconds,
        payloadBytes: s.payload,
      }),
    );
  }
  const tasks: WorkerTask[] = Array.from({ length: s.connections }, () => ({
    kind: 'fetch',
    host: t.host,
    port: t.port,
    subject: 'bench.fetch',
    subjects: s.subjects,
    seconds: s.seconds,
    inflight: s.inflight,
    payload: s.payload,
    rate: s.rate > 0 ? s.rate / s.connections : 0,
    maxId: PER_SUBJECT,
  }));
  return b.run(`Fetch of existing ids, ${b.model()}`, tasks);
}

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('fetch', [await b.onBroker((t) => fetch(b, t))]);
}
