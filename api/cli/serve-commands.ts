import { Option, type Command } from 'commander';
import { REASONS, SETTINGS, loadConfig, type BrokerConfig } from '../../core/index.js';

/** `--grpc-port` for BROKER_GRPC_PORT, `--redis-url` for REDIS_URL. */
export const flagOf = (env: string): string =>
  env
    .toLowerCase()
    .replace(/^broker_/, '')
    .replaceAll('_', '-');

/** The property commander gives a flag: `--grpc-port` -> grpcPort. */
const keyOf = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * The environment with the flags laid over it under their variables' names, through the one loader: a bad flag and
 * a bad variable are the same ConfigError (INVALID_CONFIG, exit 2), naming the variable.
 */
function configFrom(flags: Readonly<Record<string, string | undefined>>): BrokerConfig {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const s of SETTINGS) {
    const value = flags[keyOf(flagOf(s.env))];
    if (value !== undefined) env[s.env] = value;
  }
  return loadConfig(env);
}

/** `broker serve` (a flag per setting) and `broker worker`. */
export function addServeCommands(program: Command): void {
  const serve = program
    .command('serve')
    .description('run a broker until SIGTERM or SIGINT (flags override the environment variable named in brackets)');
  for (const s of SETTINGS) {
    serve.addOption(new Option(`--${flagOf(s.env)} <value>`, `${s.help} [${s.env}, default ${s.default}]`));
  }
  serve.action(async (flags: Record<string, string | undefined>) => {
    const config = configFrom(flags);
    // Imported here, so client commands do not load LevelDB, grpc-js's server or the job runners.
    const { runServer } = await import('../server/run.js');
    await runServer(config);
  });

  program
    .command('verify')
    .argument('<data-dir>', "a broker's data dir (the broker may be running: the check reads a scratch copy)")
    .description(
      'check a data dir without changing it: heads, segments, records, lost ids, high-water marks; exits 4 (DATA_LOSS) on damage',
    )
    .action(async (dataDir: string) => {
      const { verifyDataDir } = await import('../../log/index.js');
      const report = await verifyDataDir(dataDir);
      for (const line of report.lines) console.log(line);
      if (report.problems.length > 0) {
        console.error(`error: DATA_LOSS: ${report.problems.length} problems in ${dataDir} (above)`);
        process.exitCode = REASONS.DATA_LOSS.exitCode;
      }
    });

  program
    .command('worker')
    .description(
      "run only the job processors (compaction, replication) on a broker's data dir, without serving gRPC; --once runs one pass and exits",
    )
    .option('--once', 'run one compaction pass and replicate everything owed, then exit', false)
    .action(async (opts: { once: boolean }) => {
      const config = configFrom({});
      const { runWorker } = await import('../server/run.js');
      await runWorker(config, opts.once);
    });
}
