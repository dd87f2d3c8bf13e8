import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { settingsTable } from '../scripts/settings-table.js';
import { loadConfig, parseDuration } from './index.js';

describe('loadConfig', () => {
  describe('when the environment is empty', () => {
    it('should give the documented defaults', () => {
      const c = loadConfig({ BROKER_ID: 'b0' });
      assert.equal(c.grpcPort, 50051);
      assert.equal(c.metricsPort, 9464);
      assert.equal(c.dataDir, './data');
      assert.equal(c.fsync, 'batch');
      assert.equal(c.retentionMs, 7 * 24 * 3600 * 1000);
      assert.equal(c.maxBodyBytes, 1024 * 1024);
      assert.equal(c.redisUrl, undefined);
      assert.deepEqual(c.scyllaContactPoints, []);
    });
  });

  describe('when values are given', () => {
    it('should parse durations, numbers and lists', () => {
      const c = loadConfig({ BROKER_ID: 'b0', BROKER_RETENTION: '12h', BROKER_SEGMENT_MAX_AGE: '90', BROKER_FSYNC: 'never', SCYLLA_CONTACT_POINTS: 'a:9042, b:9043', REDIS_URL: 'redis://r:6379' });
      assert.equal(c.retentionMs, 12 * 3600 * 1000);
      assert.equal(c.segmentMaxAgeMs, 90_000);
      assert.equal(c.fsync, 'never');
      assert.deepEqual(c.scyllaContactPoints, ['a:9042', 'b:9043']);
      assert.equal(c.redisUrl, 'redis://r:6379');
      assert.equal(loadConfig({ BROKER_ID: 'b0', BROKER_RETENTION: '0' }).retentionMs, 0);
    });
  });

  describe('when values are wrong', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ BROKER_GRPC_PORT: 'abc' }, /^BROKER_GRPC_PORT: /],
      [{ BROKER_GRPC_PORT: '70000' }, /^BROKER_GRPC_PORT: 70000 is out of range \[0, 65535\]$/],
      [{ BROKER_FSYNC: 'always' }, /^BROKER_FSYNC: /],
      [{ BROKER_RETENTION: 'soon' }, /^BROKER_RETENTION: "soon" is not a duration/],
      [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: "localhost:6379" must start with redis:\/\/ or rediss:\/\/$/],
      [{ SCYLLA_KEYSPACE: 'Bad-Name' }, /^SCYLLA_KEYSPACE: "Bad-Name" must be lower-case/],
      [{ BROKER_LOCAL_RETENTION: '1h' }, /^BROKER_LOCAL_RETENTION: a local retention limit drops replicated segments, so it needs SCYLLA_CONTACT_POINTS/],
      [{ BROKER_ID: 'has space' }, /^BROKER_ID: "has space" must be/],
    ];
    for (const [env, message] of cases) {
      it(`should reject ${JSON.stringify(env)} naming the variable`, () => {
        assert.throws(() => loadConfig({ BROKER_ID: 'b0', ...env }), { name: 'ConfigError', message });
      });
    }
  });

  it('should parse plain seconds and unit durations', () => {
    assert.equal(parseDuration('X', '30'), 30_000);
    assert.equal(parseDuration('X', '250ms'), 250);
    assert.equal(parseDuration('X', '7d'), 604_800_000);
  });

  it('should document every setting in the README', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    assert.ok(readme.includes(settingsTable()), 'README.md settings table is stale: paste `npx tsx scripts/settings-table.ts`');
  });
});
