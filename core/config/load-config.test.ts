import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { settingsTable } from '../../scripts/settings-table.js';
import {
  ConfigError,
  DEFAULTS,
  SETTINGS,
  SETTING_SPECS,
  formatDuration,
  loadConfig,
  parseDuration,
  type BrokerConfig,
} from '../index.js';

describe('loadConfig', () => {
  describe('when the environment is empty', () => {
    it('should give DEFAULTS, with the host name as the broker id', () => {
      assert.deepEqual(loadConfig({}), { ...DEFAULTS, brokerId: hostname() });
    });

    it('should give the documented defaults', () => {
      const c = loadConfig({ BROKER_ID: 'b0' });
      assert.equal(c.grpcPort, 50051);
      assert.equal(c.metricsPort, 9464);
      assert.equal(c.dataDir, './data');
      assert.equal(c.fsync, 'batch');
      assert.equal(c.retentionMs, 7 * 24 * 3600 * 1000);
      assert.equal(c.maxBodyBytes, 1024 * 1024);
      assert.equal(c.shutdownTimeoutMs, 8000);
      assert.equal(c.replicationJobs, 2);
      assert.equal(c.redisUrl, undefined);
      assert.deepEqual(c.scyllaContactPoints, []);
    });
  });

  describe('when values are given', () => {
    it('should parse durations, numbers, enums and lists', () => {
      const c = loadConfig({
        BROKER_ID: 'b0',
        BROKER_RETENTION: '12h',
        BROKER_SEGMENT_MAX_AGE: '90',
        BROKER_FSYNC: 'never',
        BROKER_REPLICATION_JOBS: '8',
        SCYLLA_CONSISTENCY: 'quorum',
        SCYLLA_CONTACT_POINTS: 'a:9042, b:9043',
        REDIS_URL: 'redis://r:6379',
      });
      assert.equal(c.retentionMs, 12 * 3600 * 1000);
      assert.equal(c.segmentMaxAgeMs, 90_000);
      assert.equal(c.fsync, 'never');
      assert.equal(c.replicationJobs, 8);
      assert.equal(c.scyllaConsistency, 'quorum');
      assert.deepEqual(c.scyllaContactPoints, ['a:9042', 'b:9043']);
      assert.equal(c.redisUrl, 'redis://r:6379');
      assert.equal(loadConfig({ BROKER_ID: 'b0', BROKER_RETENTION: '0' }).retentionMs, 0);
    });

    it('should treat empty optional values as unset', () => {
      const c = loadConfig({ BROKER_ID: '', REDIS_URL: ' ', SCYLLA_CONTACT_POINTS: '' });
      assert.deepEqual([c.brokerId, c.redisUrl, c.scyllaContactPoints], [hostname(), undefined, []]);
    });

    it('should accept a local retention limit when there is a cold tier', () => {
      const c = loadConfig({ BROKER_ID: 'b0', BROKER_LOCAL_RETENTION_BYTES: '1000', SCYLLA_CONTACT_POINTS: 'a' });
      assert.equal(c.localRetentionBytes, 1000);
    });
  });

  describe('when values are wrong', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ BROKER_GRPC_PORT: 'abc' }, 'BROKER_GRPC_PORT: "abc" is not an integer'],
      [{ BROKER_GRPC_PORT: '' }, 'BROKER_GRPC_PORT: "" is not an integer'],
      [{ BROKER_GRPC_PORT: '70000' }, 'BROKER_GRPC_PORT: 70000 is out of range [0, 65535]'],
      [{ BROKER_MAX_BODY_BYTES: '0' }, 'BROKER_MAX_BODY_BYTES: 0 is out of range [1, 67108864]'],
      [{ BROKER_REPLICATION_JOBS: '65' }, 'BROKER_REPLICATION_JOBS: 65 is out of range [1, 64]'],
      [{ BROKER_REPLICATION_JOBS: '0' }, 'BROKER_REPLICATION_JOBS: 0 is out of range [1, 64]'],
      [{ BROKER_FSYNC: 'always' }, 'BROKER_FSYNC: "always" is not one of batch | never'],
      [
        { BROKER_LOG_LEVEL: 'loud' },
        'BROKER_LOG_LEVEL: "loud" is not one of fatal | error | warn | info | debug | trace | silent',
      ],
      [
        { SCYLLA_CONSISTENCY: 'two' },
        'SCYLLA_CONSISTENCY: "two" is not one of one | localOne | localQuorum | quorum | all',
      ],
      [
        { BROKER_RETENTION: 'soon' },
        'BROKER_RETENTION: "soon" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)',
      ],
      [
        { BROKER_RETENTION: '-5s' },
        'BROKER_RETENTION: "-5s" is not a duration (examples: 30s, 15m, 12h, 7d, or a number of seconds)',
      ],
      [
        { BROKER_COMPACTION_INTERVAL: '50ms' },
        'BROKER_COMPACTION_INTERVAL: "50ms" is shorter than the minimum of 100ms',
      ],
      [{ BROKER_SEGMENT_MAX_AGE: '0' }, 'BROKER_SEGMENT_MAX_AGE: "0" is shorter than the minimum of 1ms'],
      [{ BROKER_DATA_DIR: ' ' }, 'BROKER_DATA_DIR: must not be empty'],
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
      [
        { BROKER_LOCAL_RETENTION_BYTES: '1000' },
        'BROKER_LOCAL_RETENTION_BYTES: a local retention limit drops replicated segments, so it needs SCYLLA_CONTACT_POINTS (otherwise nothing is ever replicated)',
      ],
      [{ BROKER_ID: 'has space' }, "BROKER_ID: \"has space\" must be 1-63 letters, digits, '.', '_' or '-'"],
      [
        { BROKER_CLUSTER: 'c1' },
        'BROKER_CLUSTER: a cluster keeps its membership in ScyllaDB, so it needs SCYLLA_CONTACT_POINTS',
      ],
      [
        { BROKER_CLUSTER: 'a/b', SCYLLA_CONTACT_POINTS: 'a' },
        "BROKER_CLUSTER: \"a/b\" must be 1-63 letters, digits, '.', '_' or '-'",
      ],
      [{ BROKER_ADVERTISE_ADDRESS: 'host' }, 'BROKER_ADVERTISE_ADDRESS: "host" must be host:port'],
      [
        { BROKER_ACKS: 'replicated' },
        'BROKER_ACKS: replicated acks are written to ScyllaDB, so they need SCYLLA_CONTACT_POINTS',
      ],
      [
        { BROKER_MAX_REPLICATION_LAG: '5s' },
        'BROKER_MAX_REPLICATION_LAG: bounds how far acks local run ahead of ScyllaDB, so it needs BROKER_ACKS=local and SCYLLA_CONTACT_POINTS',
      ],
      [
        { BROKER_ACKS: 'replicated', SCYLLA_CONTACT_POINTS: 'a' },
        'BROKER_ACKS: replicated acks need BROKER_CLUSTER (a single broker is a cluster of one): the id reservations a cluster keeps in ScyllaDB are what stop a broker on a wiped disk from reissuing ids over its replicated records',
      ],
      [{ BROKER_ACKS: 'all' }, 'BROKER_ACKS: "all" is not one of local | replicated'],
      [{ BROKER_LEASE: '500ms' }, 'BROKER_LEASE: "500ms" is shorter than the minimum of 1000ms'],
      [
        { BROKER_MAX_CLOCK_DRIFT: '3s' },
        'BROKER_MAX_CLOCK_DRIFT: 3000 ms is more than a quarter of BROKER_LEASE (10000 ms): raise the lease or lower the drift',
      ],
      [{ BROKER_TLS_CERT: 'c.pem' }, 'BROKER_TLS_CERT: TLS needs both BROKER_TLS_CERT and BROKER_TLS_KEY'],
      [{ BROKER_TLS_KEY: 'k.pem' }, 'BROKER_TLS_KEY: TLS needs both BROKER_TLS_CERT and BROKER_TLS_KEY'],
      [
        { BROKER_TLS_CERT: 'c.pem', BROKER_TLS_KEY: 'k.pem', BROKER_CLUSTER: 'c1', SCYLLA_CONTACT_POINTS: 'a' },
        "BROKER_TLS_CERT: a cluster with TLS checks the other members' certificates, so it needs BROKER_TLS_PEER_CA (or BROKER_TLS_CLIENT_CA)",
      ],
      [
        { BROKER_TLS_PEER_CA: 'ca.pem', BROKER_TLS_CERT: 'c.pem', BROKER_TLS_KEY: 'k.pem' },
        'BROKER_TLS_PEER_CA: the peer CA checks the TLS certificates of the other members of a cluster, so it needs BROKER_CLUSTER and BROKER_TLS_CERT',
      ],
      [
        { BROKER_TLS_CLIENT_CA: 'ca.pem' },
        'BROKER_TLS_CLIENT_CA: client certificates are checked only over TLS, so this needs BROKER_TLS_CERT and BROKER_TLS_KEY',
      ],
    ];
    for (const [env, message] of cases) {
      it(`should reject ${JSON.stringify(env)} naming the variable and the rule`, () => {
        assert.throws(
          () => loadConfig({ BROKER_ID: 'b0', ...env }),
          (err: unknown) => {
            assert.ok(err instanceof ConfigError);
            assert.equal(err.message, message);
            assert.equal(err.reason, 'INVALID_CONFIG');
            assert.equal(err.variable, Object.keys(env)[0]);
            return true;
          },
        );
      });
    }
  });
});

describe('durations', () => {
  it('should parse plain seconds and unit durations', () => {
    assert.equal(parseDuration('X', '30'), 30_000);
    assert.equal(parseDuration('X', '250ms'), 250);
    assert.equal(parseDuration('X', '7d'), 604_800_000);
  });

  it('should format a duration in its largest exact unit, which parses back to the same value', () => {
    for (const [valueMs, text] of [
      [0, '0'],
      [250, '250ms'],
      [90_000, '90s'],
      [60_000, '1m'],
      [3_600_000, '1h'],
      [604_800_000, '7d'],
    ] as const) {
      assert.equal(formatDuration(valueMs), text);
      assert.equal(parseDuration('X', text), valueMs);
    }
  });
});

describe('SETTINGS', () => {
  it('should name one environment variable for every config field', () => {
    const fields = Object.keys(loadConfig({ BROKER_ID: 'b0' })).sort();
    assert.deepEqual(SETTINGS.map((s) => s.key).sort(), fields);
    assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
  });

  it('should show each default so that, set to what it shows, a variable loads to DEFAULTS', () => {
    const env: Record<string, string> = {};
    for (const s of SETTINGS) if (!s.default.startsWith('(')) env[s.env] = s.default;
    const shown = loadConfig({ ...env, BROKER_ID: 'b0' });
    const expected: BrokerConfig = { ...DEFAULTS, brokerId: 'b0' };
    assert.deepEqual(shown, expected);
    assert.deepEqual(
      SETTINGS.filter((s) => s.default.startsWith('(')).map((s) => [s.env, s.default]),
      [
        ['BROKER_METRICS_HOST', '(BROKER_GRPC_HOST)'],
        ['BROKER_HEALTH_HOST', '(BROKER_GRPC_HOST)'],
        ['BROKER_PARTITIONS', '(unset)'],
        ['BROKER_ID', '(host name)'],
        ['REDIS_URL', '(unset)'],
        ['REDIS_USERNAME', '(unset)'],
        ['REDIS_PASSWORD', '(unset)'],
        ['REDIS_TLS_CA', '(unset)'],
        ['SCYLLA_CONTACT_POINTS', '(unset)'],
        ['SCYLLA_REPLICATION', '(unset)'],
        ['SCYLLA_USERNAME', '(unset)'],
        ['SCYLLA_PASSWORD', '(unset)'],
        ['SCYLLA_TLS_CA', '(unset)'],
        ['BROKER_CLUSTER', '(unset)'],
        ['BROKER_ADVERTISE_ADDRESS', '(gRPC host:port)'],
        ['BROKER_AUTH_FILE', '(unset)'],
        ['BROKER_TLS_CERT', '(unset)'],
        ['BROKER_TLS_KEY', '(unset)'],
        ['BROKER_TLS_CLIENT_CA', '(unset)'],
        ['BROKER_TLS_PEER_CA', '(unset)'],
        ['BROKER_CLUSTER_TOKEN', '(unset)'],
      ],
    );
  });

  it('should list the choices of every enum setting from its const array', () => {
    assert.equal(SETTING_SPECS.logLevel.help, 'fatal | error | warn | info | debug | trace | silent');
    assert.equal(SETTING_SPECS.scyllaConsistency.help, 'one | localOne | localQuorum | quorum | all');
  });

  it('should be documented in the README by the generated table', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    assert.ok(
      readme.includes(settingsTable()),
      'README.md settings table is stale: paste `npx tsx scripts/settings-table.ts`',
    );
  });
});
