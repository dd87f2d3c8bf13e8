import { Command } from 'commander';
import { REASONS } from '../../core/index.js';
import type { ClientSecurity } from '../client/broker-client.js';
import { addClientCommands } from './client-commands.js';
import { Printer } from './print.js';
import { addServeCommands } from './serve-commands.js';

/** "2 for INVALID_CONFIG, 3 for UNSUPPORTED_FORMAT and 1 for anything else", from REASONS. */
export function exitCodesText(): string {
  const special = Object.entries(REASONS)
    .filter(([, spec]) => spec.exitCode !== 1)
    .map(([reason, spec]) => `${spec.exitCode} for ${reason}`);
  return `${special.join(', ')} and 1 for anything else`;
}

const EXAMPLES = `
Examples:
  broker serve --data-dir ./data --fsync batch
  broker publish orders '{"sku":42}' --expiration 60
  seq 1 1000 | broker publish orders          # one message per line, pipelined
  seq 1 100000 | broker publish orders --batch 500   # in PublishBatch calls of 500
  broker subscribe orders --from 1 --count 10
  broker fetch orders 1
  broker --json subjects --prefix ord
  broker info orders
`;

/** An environment variable as a flag's default; unset or empty = no default. */
function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The `broker` command line: `serve` and `worker` run the broker; the other commands talk to one over gRPC. */
export function buildProgram(): Command {
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
    .option(
      '--tls-ca <file>',
      'connect with TLS, checking the broker with this PEM CA [BROKER_TLS_CA]',
      env('BROKER_TLS_CA'),
    )
    .option('--cert <file>', 'PEM client certificate, for mTLS [BROKER_CLIENT_CERT]', env('BROKER_CLIENT_CERT'))
    .option('--key <file>', 'PEM key of --cert [BROKER_CLIENT_KEY]', env('BROKER_CLIENT_KEY'))
    .option('--token <token>', 'bearer token or JWT sent on every call [BROKER_TOKEN]', env('BROKER_TOKEN'))
    // Commander's own complaints (unknown option, missing or invalid argument) are bad arguments too, so they
    // print in the CLI's one error format; commands inherit this configuration.
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'error: INVALID_ARGUMENT: ')) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `${EXAMPLES}
Errors are printed as "error: <REASON>: <message>" (reasons: docs/errors.md); the exit code is ${exitCodesText()}.`,
    );
  const globals = (): { server: string; json: boolean } => program.opts<{ server: string; json: boolean }>();
  addServeCommands(program);
  addClientCommands(program, {
    server: () => globals().server,
    security: () => program.opts<ClientSecurity>(),
    print: new Printer(() => globals().json),
  });
  return program;
}
