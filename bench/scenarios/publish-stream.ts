// npm run bench -- publish-stream: PublishStream, acks in request order (Node workers, or --client go).
import type { ScenarioResult } from '../support/result.js';
import { BrokerBench } from './broker-bench.js';
import { parseLoadSettings } from './load-settings.js';

export async function run(args: string[]): Promise<ScenarioResult> {
  const b = new BrokerBench(parseLoadSettings(args));
  return b.result('publish-stream', [await b.onBroker((t) => b.publishStream(t))]);
}
