// CPU of the broker's own unary Publish handler, without grpc-js and the log: BrokerService.handlers().publish called
// in process with a writer that resolves at once, for each build given (a directory holding dist/, as for
// bench/ab-cpu.ts), alternated. What it measures is ours alone (validation, gate, budget, metrics, promises), the
// part of a unary call that grpc-js's echo (bench/support/echo-server.ts) does not have besides the append.
//
//   node --import tsx bench/handler-cpu.ts --rounds 8 --calls 200000 before=/tmp/a after=.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

type Service = typeof import('../api/grpc/broker-service.js');
type Metrics = typeof import('../api/metrics/broker-metrics.js');
type Options = ConstructorParameters<Service['BrokerService']>[0];
type Publish = (call: unknown, callback: () => void) => void;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '8' }, calls: { type: 'string', default: '200000' } },
});

async function handlerOf(dir: string): Promise<Publish> {
  const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(dir, 'dist', path)).href) as Promise<T>;
  const { BrokerService } = await load<Service>('api/grpc/broker-service.js');
  const { BrokerMetrics } = await load<Metrics>('api/metrics/broker-metrics.js');
  let id = 0;
  const writer = { append: () => Promise.resolve(++id) } as unknown as Options['writer'];
  const service = new BrokerService({
    writer,
    reader: {} as Options['reader'],
    metrics: new BrokerMetrics(),
    retentionMs: 0,
    maxBodyBytes: 1 << 20,
    maxSubscribers: 10,
  });
  return service.handlers().publish as unknown as Publish;
}

/** CPU ns per call over `count` calls, 64 in flight between yields (as one connection of the loadgen runs). */
async function round(publish: Publish, count: number): Promise<number> {
  const request = { subject: 'ab.cpu', body: Buffer.alloc(1024), expirationSeconds: 0, idempotencyKey: '' };
  const call = { request, metadata: {}, getAuthContext: () => ({}) };
  let done = 0;
  let finished = (): void => undefined;
  const all = new Promise<void>((ok) => (finished = ok));
  const callback = (): void => {
    if (++done === count) finished();
  };
  const t0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    publish(call, callback);
    if (i % 64 === 63) await null;
  }
  await all;
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / count;
}

const builds = await Promise.all(
  positionals.map(async (p) => {
    const [name, dir] = p.split('=');
    if (name === undefined || dir === undefined) throw new Error(`a build is name=dir, not ${p}`);
    return { name, publish: await handlerOf(resolve(dir)), ns: [] as number[] };
  }),
);
for (let r = 0; r < Number(values.rounds); r++)
  for (const build of r % 2 === 0 ? builds : [...builds].reverse())
    build.ns.push(await round(build.publish, Number(values.calls)));
for (const { name, ns } of builds) {
  const sorted = [...ns].sort((a, b) => a - b);
  console.log(
    `${name}: CPU ns per call min ${sorted[0]?.toFixed(0)}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)}`,
  );
}
