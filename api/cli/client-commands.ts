import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import type {
  ListSubjectsResponse,
  MessageResponse,
  PublishRequest,
  PublishResponse,
  SubjectInfo,
} from '../../proto/gen/broker.js';
import { connect, publishBatched, publishPipelined, unary, type ClientSecurity } from '../client/broker-client.js';
import { integerArgument } from './integer-argument.js';
import type { Printer } from './print.js';

/** What every client command needs: the broker's address (from --server) and the printer. */
export interface ClientContext {
  server(): string;
  /** TLS and token flags (--tls-ca, --cert, --key, --token). */
  security(): ClientSecurity;
  readonly print: Printer;
}

interface PublishOptions {
  readonly expiration: number;
  readonly count: number;
  readonly batch: number;
}

async function publish(
  ctx: ClientContext,
  subject: string,
  body: string | undefined,
  opts: PublishOptions,
): Promise<void> {
  const client = connect(ctx.server(), ctx.security());
  const request = (text: string): PublishRequest => ({
    subject,
    body: Buffer.from(text, 'utf8'),
    expirationSeconds: opts.expiration,
  });
  const ack = (id: number): void => ctx.print.ack(subject, id);
  try {
    if (body !== undefined && opts.count === 1) {
      ack((await unary<PublishResponse>((done) => client.publish(request(body), done))).id);
      return;
    }
    const requests = async function* (): AsyncGenerator<PublishRequest> {
      if (body !== undefined) {
        for (let i = 0; i < opts.count; i++) yield request(body);
        return;
      }
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) yield request(line);
    };
    if (opts.batch > 0) await publishBatched(client, requests(), opts.batch, ack);
    else await publishPipelined(client, requests(), ack);
  } finally {
    client.close();
  }
}

function addPublish(program: Command, ctx: ClientContext): void {
  program
    .command('publish <subject> [body]')
    .description(
      'publish the body (--count times), or each line of stdin when no body is given (pipelined on one PublishStream, or in PublishBatch calls with --batch)',
    )
    .option(
      '-e, --expiration <seconds>',
      'expire the message after this many seconds (0 = the subject retention)',
      integerArgument('--expiration', 0),
      0,
    )
    .option('-c, --count <n>', 'publish the body this many times', integerArgument('--count', 1), 1)
    .option(
      '-b, --batch <n>',
      'send PublishBatch calls of up to n messages instead of one PublishStream (0 = stream)',
      integerArgument('--batch', 0),
      0,
    )
    .action((subject: string, body: string | undefined, opts: PublishOptions) => publish(ctx, subject, body, opts));
}

async function subscribe(ctx: ClientContext, subject: string, opts: { from: number; count: number }): Promise<void> {
  const client = connect(ctx.server(), ctx.security());
  let seen = 0;
  const stream = client.subscribe({ subject, fromId: opts.from });
  const stop = (): void => stream.cancel();
  process.once('SIGINT', stop);
  try {
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: MessageResponse) => {
        ctx.print.message(m);
        seen += 1;
        if (opts.count > 0 && seen >= opts.count) {
          stream.cancel();
          resolve();
        }
      });
      // Code 1 is CANCELLED: our own cancel (Ctrl-C or --count reached), not a failure.
      stream.on('error', (err: Error & { code?: number }) => (err.code === 1 ? resolve() : reject(err)));
      stream.on('end', () => resolve());
    });
  } finally {
    process.off('SIGINT', stop);
    client.close();
  }
}

function addReadCommands(program: Command, ctx: ClientContext): void {
  program
    .command('fetch')
    .description('fetch one message by id')
    .argument('<subject>')
    .argument('<id>', 'the id (offset) of the message', integerArgument('id', 0))
    .action(async (subject: string, id: number) => {
      const client = connect(ctx.server(), ctx.security());
      try {
        ctx.print.message(await unary<MessageResponse>((done) => client.fetch({ subject, id }, done)));
      } finally {
        client.close();
      }
    });

  program
    .command('subscribe <subject>')
    .description('print messages as they arrive: live only, or replayed from --from and then live (Ctrl-C stops)')
    .option(
      '-f, --from <id>',
      'replay from this id (0 = only messages published from now on)',
      integerArgument('--from', 0),
      0,
    )
    .option('-n, --count <n>', 'exit after this many messages (0 = never)', integerArgument('--count', 0), 0)
    .action((subject: string, opts: { from: number; count: number }) => subscribe(ctx, subject, opts));
}

async function listSubjects(ctx: ClientContext, prefix: string): Promise<void> {
  const client = connect(ctx.server(), ctx.security());
  try {
    let token = '';
    do {
      const page = await unary<ListSubjectsResponse>((done) =>
        client.listSubjects({ prefix, pageSize: 1000, pageToken: token }, done),
      );
      for (const s of page.subjects) ctx.print.subject(s);
      token = page.nextPageToken;
    } while (token !== '');
  } finally {
    client.close();
  }
}

function addSubjectCommands(program: Command, ctx: ClientContext): void {
  program
    .command('subjects')
    .description('list subjects in byte order with their ids and sizes')
    .option('-p, --prefix <prefix>', 'only subjects starting with this', '')
    .action((opts: { prefix: string }) => listSubjects(ctx, opts.prefix));

  program
    .command('info <subject>')
    .description("show a subject's first and last id, count, bytes, segments and owner (broker id, /w<n>: worker n)")
    .action(async (subject: string) => {
      const client = connect(ctx.server(), ctx.security());
      try {
        ctx.print.subject(await unary<SubjectInfo>((done) => client.getSubject({ subject }, done)));
      } finally {
        client.close();
      }
    });
}

/** The commands that talk to a running broker over gRPC. */
export function addClientCommands(program: Command, ctx: ClientContext): void {
  addPublish(program, ctx);
  addReadCommands(program, ctx);
  addSubjectCommands(program, ctx);
}
