import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { settingsTable } from '../scripts/settings-table.js';
import { ConfigError, SETTINGS, loadConfig, parseDuration } from './index.js';

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
      const c = loadConfig({
        BROKER_ID: 'b0',
        BROKER_RETENTION: '12h',
        BROKER_SEGMENT_MAX_AGE: '90',
        BROKER_FSYNC: 'never',
        SCYLLA_CONTACT_POINTS: 'a:9042, b:9043',
        REDIS_URL: 'redis://r:6379',
      });
      assert.equal(c.retentionMs, 12 * 3600 * 1000);
      assert.equal(c.segmentMaxAgeMs, 90_000);
      assert.equal(c.fsync, 'never');
      assert.deepEqual(c.scyllaContactPoints, ['a:9042', 'b:9043']);
      assert.equal(c.redisUrl, 'redis://r:6379');
      assert.equal(loadConfig({ BROKER_ID: 'b0', BROKER_RETENTION: '0' }).retentionMs, 0);
    });
  });

  describe('when values are wrong', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ BROKER_GRPC_PORT: 'abc' }, 'BROKER_GRPC_PORT: "BROKER_GRPC_PORT" should be a valid integer'],
      [{ BROKER_GRPC_PORT: '70000' }, 'BROKER_GRPC_PORT: 70000 is out of range [0, 65535]'],
      [{ BROKER_MAX_BODY_BYTES: '0' }, 'BROKER_MAX_BODY_BYTES: 0 is out of range [1, 67108864]'],
      [{ BROKER_FSYNC: 'always' }, 'BROKER_FSYNC: "BROKER_FSYNC" should be one of [batch, never]'],
      [
        { BROKER_LOG_LEVEL: 'loud' },
        'BROKER_LOG_LEVEL: "BROKER_LOG_LEVEL" should be one of [fatal, error, warn, info, debug, trace, silent]',
      ],
      [
        { BROKER_RETENTION: 'soon' },
        'BROKER_RETENTION: "soon" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)',
      ],
      [
        { BROKER_RETENTION: '-5s' },
        'BROKER_RETENTION: "-5s" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)',
      ],
      [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: "localhost:6379" must start with redis:// or rediss://'],
      [{ SCYLLA_CONTACT_POINTS: 'a b' }, 'SCYLLA_CONTACT_POINTS: "a b" is not host or host:port'],
      [
        { SCYLLA_KEYSPACE: 'Bad-Name' },
        'SCYLLA_KEYSPACE: "Bad-Name" must be lower-case letters, digits and _ (at most 48), starting with a letter',
      ],
      [
        { BROKER_LOCAL_RETENTION: '1h' },
        'BROKER_LOCAL_RETENTION: a local retention limit drops replicated segments, so it needs SCYLLA_CONTACT_POINTS (otherwise nothing is ever replicated)',
      ],
      [{ BROKER_ID: 'has space' }, "BROKER_ID: \"has space\" must be 1-63 letters, digits, '.', '_' or '-'"],
    ];
    for (const [env, message] of cases) {
      it(`should reject ${JSON.stringify(env)} naming the variable and the rule`, () => {
        assert.throws(
          () => loadConfig({ BROKER_ID: 'b0', ...env }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.equal(err.message, message);
            assert.equal(err.variable, Object.keys(env)[0]);
            return true;
          },
        );
      });
    }
  });

  it('should parse plain seconds and unit durations', () => {
    assert.equal(parseDuration('X', '30'), 30_000);
    assert.equal(parseDuration('X', '250ms'), 250);
    assert.equal(parseDuration('X', '7d'), 604_800_000);
  });

  it('should name an environment variable for every setting and a setting for every config field', () => {
    const fields = Object.keys(loadConfig({ BROKER_ID: 'b0' })).sort();
    assert.deepEqual(SETTINGS.map((s) => s.key).sort(), fields);
    assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
  });

  it('should document every setting in the README', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    assert.ok(
      readme.includes(settingsTable()),
      'README.md settings table is stale: paste `npx tsx scripts/settings-table.ts`',
    );
  });
});
