#!/usr/bin/env node
// The broker's command line: `broker serve` runs a broker; the other commands talk to one over gRPC.
import { Command, Option } from 'commander';
import { createInterface } from 'node:readline';
import { ConfigError, SETTINGS, loadConfig } from '../core/index.js';
import type { ListSubjectsResponse, MessageResponse, PublishResponse, SubjectInfo } from '../proto/gen/broker.js';
import { connect, unary } from './client/broker-client.js';
import { errorReason } from './grpc/status.js';
import { runServer, runWorker } from './server/run.js';

const program = new Command();
program
  .name('broker')
  .description('An event-sourced message broker with a segmented log on LevelDB, served over gRPC.')
  .option('-s, --server <host:port>', 'broker address for client commands', process.env.BROKER_ADDRESS ?? 'localhost:50051')
  .option('--json', 'print JSON lines instead of readable text', false);

const serve = program
  .command('serve')
  .description('run a broker (flags override the environment variables named in brackets)');
for (const s of SETTINGS) {
  serve.addOption(new Option(`--${s.env.toLowerCase().replace(/^broker_/, '').replaceAll('_', '-')} <value>`, `${s.help} [${s.env}, default ${s.default === '' ? 'unset' : s.default}]`));
}
serve.action(async (flags: Record<string, string | undefined>) => {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const s of SETTINGS) {
    const key = s.env.toLowerCase().replace(/^broker_/, '').replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    if (flags[key] !== undefined) env[s.env] = flags[key];
  }
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`broker: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  await runServer(config);
});

program
  .command('worker')
  .description("run only the job processors (compaction, replication) on a broker's data dir, without serving gRPC; --once runs one pass and exits")
  .option('--once', 'run one compaction pass and replicate everything owed, then exit', false)
  .action(async (opts: { once: boolean }) => {
    let config;
    try {
      config = loadConfig(process.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`broker: invalid configuration: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
    await runWorker(config, opts.once);
  });

function globals(): { server: string; json: boolean } {
  return program.opts<{ server: string; json: boolean }>();
}

function printMessage(m: MessageResponse): void {
  if (globals().json) {
    console.log(JSON.stringify({ subject: m.subject, id: m.id, publishedAtMs: m.publishedAtMs, expirationSeconds: m.expirationSeconds, body: m.body.toString('utf8') }));
  } else {
    const when = new Date(m.publishedAtMs).toISOString();
    console.log(`[#${m.id}] ${m.subject} ${when}${m.expirationSeconds > 0 ? ` ttl=${m.expirationSeconds}s` : ''}\n${m.body.toString('utf8')}`);
  }
}

function printSubject(s: SubjectInfo): void {
  if (globals().json) console.log(JSON.stringify(s));
  else console.log(`${s.subject}  ids ${s.firstId}..${s.lastId}  ${s.count} msgs  ${s.bytes} B  ${s.segments} segments (${s.sealedSegments} sealed, ${s.replicatedSegments} replicated)  retention ${s.retentionSeconds === 0 ? 'forever' : `${s.retentionSeconds}s`}`);
}

program
  .command('publish <subject> [body]')
  .description('publish a message (the body, or each line of stdin when no body is given)')
  .option('-e, --expiration <seconds>', 'expire the message after this many seconds (0 = subject retention)', '0')
  .option('-c, --count <n>', 'publish the body this many times', '1')
  .action(async (subject: string, body: string | undefined, opts: { expiration: string; count: string }) => {
    const client = connect(globals().server);
    const expirationSeconds = Number(opts.expiration);
    const publish = async (text: string): Promise<void> => {
      const res = await unary<PublishResponse>((done) => client.publish({ subject, body: Buffer.from(text, 'utf8'), expirationSeconds }, done));
      if (globals().json) console.log(JSON.stringify({ subject, id: res.id }));
      else console.log(`published ${subject} #${res.id}`);
    };
    if (body !== undefined) {
      for (let i = 0; i < Number(opts.count); i++) await publish(body);
    } else {
      for await (const line of createInterface({ input: process.stdin })) await publish(line);
    }
    client.close();
  });

program
  .command('fetch <subject> <id>')
  .description('fetch one message by id')
  .action(async (subject: string, id: string) => {
    const client = connect(globals().server);
    printMessage(await unary<MessageResponse>((done) => client.fetch({ subject, id: Number(id) }, done)));
    client.close();
  });

program
  .command('subscribe <subject>')
  .description('print messages as they arrive (live, or replay from --from and then live)')
  .option('-f, --from <id>', 'replay from this id (0 = live only)', '0')
  .option('-n, --count <n>', 'exit after this many messages (0 = never)', '0')
  .action(async (subject: string, opts: { from: string; count: string }) => {
    const client = connect(globals().server);
    const limit = Number(opts.count);
    let seen = 0;
    const stream = client.subscribe({ subject, fromId: Number(opts.from) });
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: MessageResponse) => {
        printMessage(m);
        seen += 1;
        if (limit > 0 && seen >= limit) {
          stream.cancel();
          resolve();
        }
      });
      stream.on('error', (err: Error & { code?: number }) => (err.code === 1 ? resolve() : reject(err)));
      stream.on('end', () => resolve());
      process.once('SIGINT', () => stream.cancel());
    });
    client.close();
  });

program
  .command('subjects')
  .description('list subjects')
  .option('-p, --prefix <prefix>', 'only subjects starting with this', '')
  .action(async (opts: { prefix: string }) => {
    const client = connect(globals().server);
    let token = '';
    do {
      const page = await unary<ListSubjectsResponse>((done) => client.listSubjects({ prefix: opts.prefix, pageSize: 1000, pageToken: token }, done));
      for (const s of page.subjects) printSubject(s);
      token = page.nextPageToken;
    } while (token !== '');
    client.close();
  });

program
  .command('info <subject>')
  .description("show a subject's ids, size and segments")
  .action(async (subject: string) => {
    const client = connect(globals().server);
    printSubject(await unary<SubjectInfo>((done) => client.getSubject({ subject }, done)));
    client.close();
  });

program.parseAsync().catch((err: unknown) => {
  const e = err as Error & { code?: number; details?: string; metadata?: import('@grpc/grpc-js').Metadata };
  const reason = e.metadata === undefined ? undefined : errorReason(e);
  console.error(`error: ${reason ?? e.name}: ${e.details ?? e.message}`);
  process.exit(1);
});
