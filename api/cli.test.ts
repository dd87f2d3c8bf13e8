import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REASONS } from '../core/index.js';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI as a child process, with only the environment given (plus PATH), and waits for it to exit. */
function cli(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('broker CLI', () => {
  describe('when a setting is bad', () => {
    it('should exit 2 naming the variable and the rule, from the environment', async () => {
      const run = await cli(['serve'], { BROKER_FSYNC: 'always' });
      assert.equal(run.code, 2);
      assert.equal(run.stderr, 'error: INVALID_CONFIG: BROKER_FSYNC: "always" is not one of batch | never\n');
      assert.equal(run.stdout, '');
    });

    it('should exit 2 naming the variable behind a flag', async () => {
      const run = await cli(['serve', '--replication-jobs', '65']);
      assert.equal(run.code, 2);
      assert.equal(run.stderr, 'error: INVALID_CONFIG: BROKER_REPLICATION_JOBS: 65 is out of range [1, 64]\n');
    });

    it('should exit 2 when two settings contradict each other', async () => {
      const run = await cli(['worker', '--once'], { BROKER_LOCAL_RETENTION: '1h' });
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^error: INVALID_CONFIG: BROKER_LOCAL_RETENTION: .* needs SCYLLA_CONTACT_POINTS/);
    });
  });

  describe('when an argument is bad', () => {
    it('should print commander message as an INVALID_ARGUMENT and exit 1', async () => {
      const run = await cli(['publish', 'orders', 'hi', '--count', '0']);
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        `error: INVALID_ARGUMENT: option '-c, --count <n>' argument '0' is invalid. --count must be an integer >= 1, got "0"\n(add --help for usage)\n`,
      );
    });

    it('should treat an id that is not a number the same way', async () => {
      const run = await cli(['fetch', 'orders', 'x']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: INVALID_ARGUMENT: command-argument value 'x' is invalid for argument 'id'\./);
    });
  });

  describe('when the broker cannot start', () => {
    it("should print the error and its cause chain, and exit with the reason's code (STORAGE_UNREADABLE: 3)", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'broker-cli-'));
      try {
        // A file where the data dir should be: LevelDB's open fails with the file system's error as its cause.
        const file = join(dir, 'not-a-dir');
        await writeFile(file, '');
        const run = await cli(['serve', '--data-dir', file, '--grpc-port', '0', '--metrics-port', '-1']);
        assert.equal(run.code, REASONS.STORAGE_UNREADABLE.exitCode);
        const lines = run.stderr.trimEnd().split('\n');
        assert.match(lines[0] ?? '', /^error: STORAGE_UNREADABLE: .+/);
        assert.ok(
          lines.some((line) => /^ {2}cause: .*EEXIST/.test(line)),
          `no cause line in:\n${run.stderr}`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('when asked for help', () => {
    it('should state the error format and the exit codes it uses', async () => {
      const run = await cli(['--help']);
      assert.equal(run.code, 0);
      const text = run.stdout.replace(/\s+/g, ' ');
      assert.ok(text.includes('Errors are printed as "error: <REASON>: <message>" (reasons: docs/errors.md)'), text);
      // Every reason with an exit code of its own is named with it; the rest exit 1.
      for (const [reason, spec] of Object.entries(REASONS)) {
        if (spec.exitCode !== 1) assert.ok(text.includes(`${spec.exitCode} for ${reason}`), `${reason} in:\n${text}`);
      }
      assert.ok(text.includes('1 for anything else'), text);
    });

    it('should offer a flag for every setting with its variable and default', async () => {
      const run = await cli(['serve', '--help']);
      assert.equal(run.code, 0);
      const text = run.stdout.replace(/\s+/g, ' ');
      assert.ok(text.includes('--replication-jobs <value>'), run.stdout);
      assert.ok(text.includes('[BROKER_REPLICATION_JOBS, default 2]'), run.stdout);
      assert.ok(text.includes('[BROKER_FSYNC, default batch]'), run.stdout);
    });
  });
});
