import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, cqlSecurity, loadConfig, redisSecurity } from '../index.js';

const dir = mkdtempSync(join(tmpdir(), 'deps-secrets-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(run: () => unknown, variable: string): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.variable, variable);
    assert.equal(err.reason, 'INVALID_CONFIG');
    return err;
  }
  assert.fail(`expected a ConfigError naming ${variable}`);
}

describe('secrets from files (<NAME>_FILE)', () => {
  it('should read the value from the file, without its trailing line end', () => {
    const c = loadConfig({
      BROKER_ID: 'b0',
      SCYLLA_CONTACT_POINTS: '127.0.0.1',
      SCYLLA_USERNAME: 'broker',
      SCYLLA_PASSWORD_FILE: file('scylla-password', 's3cret word\n'),
      REDIS_URL: 'rediss://redis:6380',
      REDIS_USERNAME_FILE: file('redis-user', 'jobs\r\n'),
      REDIS_PASSWORD_FILE: file('redis-password', 'pw'),
    });
    assert.equal(c.scyllaPassword, 's3cret word');
    assert.equal(c.redisUsername, 'jobs');
    assert.equal(c.redisPassword, 'pw');
  });

  it('should take any setting from a file, then apply its rule', () => {
    assert.equal(loadConfig({ BROKER_ID_FILE: file('id', 'b7\n') }).brokerId, 'b7');
    configError(() => loadConfig({ BROKER_GRPC_PORT_FILE: file('port', 'x\n') }), 'BROKER_GRPC_PORT');
  });

  it('should refuse a variable set both ways, naming both', () => {
    const err = configError(
      () => loadConfig({ SCYLLA_PASSWORD: 'a', SCYLLA_PASSWORD_FILE: file('p2', 'b') }),
      'SCYLLA_PASSWORD_FILE',
    );
    assert.match(err.message, /set SCYLLA_PASSWORD or SCYLLA_PASSWORD_FILE, not both/);
  });

  it('should name a file that cannot be read or is empty, and never show a secret', () => {
    const missing = configError(() => loadConfig({ REDIS_PASSWORD_FILE: join(dir, 'absent') }), 'REDIS_PASSWORD_FILE');
    assert.match(missing.message, /cannot read .*absent \(ENOENT\)/);
    configError(() => loadConfig({ REDIS_PASSWORD_FILE: file('empty', '\n') }), 'REDIS_PASSWORD_FILE');
    const both = configError(
      () => loadConfig({ REDIS_URL: 'redis://u:hunter2@r:6379', REDIS_PASSWORD: 'other' }),
      'REDIS_PASSWORD',
    );
    assert.doesNotMatch(both.message, /hunter2|other/);
  });
});

describe('dependency credentials and TLS', () => {
  it('should need both halves of the CQL credentials and a user with a Redis user', () => {
    configError(() => loadConfig({ SCYLLA_USERNAME: 'broker' }), 'SCYLLA_USERNAME');
    configError(() => loadConfig({ SCYLLA_PASSWORD: 'pw' }), 'SCYLLA_PASSWORD');
    configError(() => loadConfig({ REDIS_URL: 'redis://r', REDIS_USERNAME: 'jobs' }), 'REDIS_USERNAME');
  });

  it('should need a rediss:// URL for REDIS_TLS_CA', () => {
    const ca = file('ca.pem', 'PEM');
    configError(() => loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA: ca }), 'REDIS_TLS_CA');
    assert.equal(loadConfig({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA: ca }).redisTlsCa, ca);
  });

  it('should give the CQL driver credentials and a CA with certificate checks on', () => {
    const ca = file('cql-ca.pem', 'CQL CA');
    const c = loadConfig({
      SCYLLA_CONTACT_POINTS: 'scylla:9042',
      SCYLLA_USERNAME: 'broker',
      SCYLLA_PASSWORD: 'pw',
      SCYLLA_TLS_CA: ca,
    });
    assert.deepEqual(cqlSecurity(c), {
      credentials: { username: 'broker', password: 'pw' },
      sslOptions: { ca: 'CQL CA', rejectUnauthorized: true },
    });
    assert.deepEqual(cqlSecurity(loadConfig({})), {});
  });

  it('should give ioredis the user, the password and the CA', () => {
    const ca = file('redis-ca.pem', 'REDIS CA');
    const c = loadConfig({
      REDIS_URL: 'rediss://r:6380',
      REDIS_USERNAME: 'jobs',
      REDIS_PASSWORD: 'pw',
      REDIS_TLS_CA: ca,
    });
    assert.deepEqual(redisSecurity(c), { username: 'jobs', password: 'pw', tls: { ca: 'REDIS CA' } });
    assert.deepEqual(redisSecurity(loadConfig({ REDIS_URL: 'redis://r' })), {});
  });

  it('should name a CA file that cannot be read when the client is made', () => {
    const c = loadConfig({ SCYLLA_CONTACT_POINTS: 's', SCYLLA_TLS_CA: join(dir, 'gone.pem') });
    configError(() => cqlSecurity(c), 'SCYLLA_TLS_CA');
  });
});
