import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Whether importing `entry` (in a fresh process) loads cassandra-driver. */
async function loadsCassandraDriver(entry: string): Promise<boolean> {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(entry)});
    const cache = createRequire(import.meta.url).cache;
    console.log(Object.keys(cache).some((path) => path.includes('/node_modules/cassandra-driver/')));
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
  });
  return stdout.trim() === 'true';
}

describe('tiering entry points', () => {
  describe('when the main entry is imported', () => {
    it('should not load cassandra-driver (a broker on embedded defaults never needs it)', async () => {
      assert.equal(await loadsCassandraDriver('./tiering/index.ts'), false);
    });
  });

  describe('when the cassandra entry is imported', () => {
    it('should load cassandra-driver', async () => {
      assert.equal(await loadsCassandraDriver('./tiering/cassandra/index.ts'), true);
    });
  });
});
