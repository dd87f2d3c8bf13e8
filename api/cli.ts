#!/usr/bin/env node
// The broker's command line: `broker serve` runs a broker; the other commands talk to one over gRPC.
import { Command, InvalidArgumentError, Option } from 'commander';
import { createInterface } from 'node:readline';
import { ConfigError, SETTINGS, loadConfig, type BrokerConfig } from '../core/index.js';
import type {
  ListSubjectsResponse,
  MessageResponse,
  PublishRequest,
  PublishResponse,
  SubjectInfo,
} from '../proto/gen/broker.js';
import { connect, describeError, publishBatched, publishPipelined, unary } from './client/broker-client.js';

const program = new Command();
program
  .name('broker')
  .description('An event-sourced message broker with a segmented log on LevelDB, served over gRPC.')
  .option(
    '-s, --server <host:port>',
    'broker address for client commands [BROKER_ADDRESS]',
    process.env.BROKER_ADDRESS ?? 'localhost:50051',
  )
  .option('--json', 'print JSON lines instead of readable text', false)
  .showHelpAfterError('(add --help for usage)')
  .addHelpText(
    'after',
    `
Examples:
  broker serve --data-dir ./data --fsync batch
  broker publish orders '{"sku":42}' --expiration 60
  seq 1 1000 | broker publish orders          # one message per line, pipelined
  seq 1 100000 | broker publish orders --batch 500   # in PublishBatch calls of 500
  broker subscribe orders --from 1 --count 10
  broker fetch orders 1
  broker --json subjects --prefix ord
  broker info orders

Errors are printed as "error: <REASON>: <message>" (reasons: docs/errors.md) with exit code 1.`,
  );

/** `--grpc-port` for BROKER_GRPC_PORT, `--redis-url` for REDIS_URL. */
const flagOf = (env: string): string =>
  env
    .toLowerCase()
    .replace(/^broker_/, '')
    .replaceAll('_', '-');
/** The property commander gives a flag: `--grpc-port` -> grpcPort. */
const keyOf = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function configFrom(flags: Record<string, string | undefined>): BrokerConfig {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const s of SETTINGS) {
    const value = flags[keyOf(flagOf(s.env))];
    if (value !== undefined) env[s.env] = value;
  }
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: INVALID_CONFIG: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

const serve = program
  .command('serve')
  .description('run a broker until SIGTERM or SIGINT (flags override the environment variable named in brackets)');
for (const s of SETTINGS) {
  serve.addOption(
    new Option(`--${flagOf(s.env)} <value>`, `${s.help} [${s.env}, default ${s.default === '' ? 'unset' : s.default}]`),
  );
}
serve.action(async (flags: Record<string, string | undefined>) => {
  const config = configFrom(flags);
  // Imported here, so client commands do not load LevelDB, grpc-js's server or the job runners.
  const { runServer } = await import('./server/run.js');
  await runServer(config);
});

program
  .command('worker')
  .description(
    "run only the job processors (compaction, replication) on a broker's data dir, without serving gRPC; --once runs one pass and exits",
  )
  .option('--once', 'run one compaction pass and replicate everything owed, then exit', false)
  .action(async (opts: { once: boolean }) => {
    const config = configFrom({});
    const { runWorker } = await import('./server/run.js');
    await runWorker(config, opts.once);
  });

function int(name: string, min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return n;
  };
}

function globals(): { server: string; json: boolean } {
  return program.opts<{ server: string; json: boolean }>();
}

function printMessage(m: MessageResponse): void {
  if (globals().json) {
    console.log(
      JSON.stringify({
        subject: m.subject,
        id: m.id,
        publishedAtMs: m.publishedAtMs,
        expirationSeconds: m.expirationSeconds,
        body: m.body.toString('utf8'),
      }),
    );
    return;
  }
  const when = new Date(m.publishedAtMs).toISOString();
  console.log(
    `[#${m.id}] ${m.subject} ${when}${m.expirationSeconds > 0 ? ` expiration=${m.expirationSeconds}s` : ''} (${m.body.length} B)\n${m.body.toString('utf8')}`,
  );
}

function printSubject(s: SubjectInfo): void {
  if (globals().json) {
    console.log(JSON.stringify(s));
    return;
  }
  const retention = s.retentionSeconds === 0 ? 'forever' : `${s.retentionSeconds}s`;
  console.log(
    `${s.subject}  ids ${s.firstId}..${s.lastId}  ${s.count} msgs  ${s.bytes} B  ${s.segments} segments (${s.sealedSegments} sealed, ${s.replicatedSegments} replicated)  retention ${retention}`,
  );
}

function printAck(subject: string, id: number): void {
  console.log(globals().json ? JSON.stringify({ subject, id }) : `published ${subject} #${id}`);
}

program
  .command('publish <subject> [body]')
  .description(
    'publish the body (--count times), or each line of stdin when no body is given (pipelined on one PublishStream, or in PublishBatch calls with --batch)',
  )
  .option(
    '-e, --expiration <seconds>',
    'expire the message after this many seconds (0 = the subject retention)',
    int('--expiration', 0),
    0,
  )
  .option('-c, --count <n>', 'publish the body this many times', int('--count', 1), 1)
  .option(
    '-b, --batch <n>',
    'send PublishBatch calls of up to n messages instead of one PublishStream (0 = stream)',
    int('--batch', 0),
    0,
  )
  .action(
    async (subject: string, body: string | undefined, opts: { expiration: number; count: number; batch: number }) => {
      const client = connect(globals().server);
      const request = (text: string): PublishRequest => ({
        subject,
        body: Buffer.from(text, 'utf8'),
        expirationSeconds: opts.expiration,
      });
      try {
        if (body !== undefined && opts.count === 1) {
          printAck(subject, (await unary<PublishResponse>((done) => client.publish(request(body), done))).id);
        } else {
          const requests = async function* (): AsyncGenerator<PublishRequest> {
            if (body !== undefined) {
              for (let i = 0; i < opts.count; i++) yield request(body);
            } else {
              for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity }))
                yield request(line);
            }
          };
          if (opts.batch > 0) await publishBatched(client, requests(), opts.batch, (id) => printAck(subject, id));
          else await publishPipelined(client, requests(), (id) => printAck(subject, id));
        }
      } finally {
        client.close();
      }
    },
  );

program
  .command('fetch <subject> <id>')
  .description('fetch one message by id')
  .action(async (subject: string, rawId: string) => {
    const id = int('id', 0)(rawId);
    const client = connect(globals().server);
    try {
      printMessage(await unary<MessageResponse>((done) => client.fetch({ subject, id }, done)));
    } finally {
      client.close();
    }
  });

program
  .command('subscribe <subject>')
  .description('print messages as they arrive: live only, or replayed from --from and then live (Ctrl-C stops)')
  .option('-f, --from <id>', 'replay from this id (0 = only messages published from now on)', int('--from', 0), 0)
  .option('-n, --count <n>', 'exit after this many messages (0 = never)', int('--count', 0), 0)
  .action(async (subject: string, opts: { from: number; count: number }) => {
    const client = connect(globals().server);
    let seen = 0;
    const stream = client.subscribe({ subject, fromId: opts.from });
    const stop = (): void => stream.cancel();
    process.once('SIGINT', stop);
    try {
      await new Promise<void>((resolve, reject) => {
        stream.on('data', (m: MessageResponse) => {
          printMessage(m);
          seen += 1;
          if (opts.count > 0 && seen >= opts.count) {
            stream.cancel();
            resolve();
          }
        });
        stream.on('error', (err: Error & { code?: number }) => (err.code === 1 ? resolve() : reject(err)));
        stream.on('end', () => resolve());
      });
    } finally {
      process.off('SIGINT', stop);
      client.close();
    }
  });

program
  .command('subjects')
  .description('list subjects in byte order with their ids and sizes')
  .option('-p, --prefix <prefix>', 'only subjects starting with this', '')
  .action(async (opts: { prefix: string }) => {
    const client = connect(globals().server);
    try {
      let token = '';
      do {
        const page = await unary<ListSubjectsResponse>((done) =>
          client.listSubjects({ prefix: opts.prefix, pageSize: 1000, pageToken: token }, done),
        );
        for (const s of page.subjects) printSubject(s);
        token = page.nextPageToken;
      } while (token !== '');
    } finally {
      client.close();
    }
  });

program
  .command('info <subject>')
  .description("show a subject's first and last id, count, bytes and segments")
  .action(async (subject: string) => {
    const client = connect(globals().server);
    try {
      printSubject(await unary<SubjectInfo>((done) => client.getSubject({ subject }, done)));
    } finally {
      client.close();
    }
  });

program.parseAsync().catch((err: unknown) => {
  const { reason, message } = describeError(err);
  console.error(`error: ${reason}: ${message}`);
  process.exit(1);
});
