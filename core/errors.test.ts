import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { errorsDoc } from '../scripts/errors-doc.js';
import {
  BrokerError,
  ConfigError,
  ExpiredIdError,
  InvalidIdError,
  MessageTooLargeError,
  REASONS,
  UnsupportedFormatError,
  exitCodeOf,
} from './index.js';

interface DocRow {
  readonly name: string;
  readonly code: number;
  readonly retriable: boolean;
  readonly exitCode: number;
  readonly description: string;
}

async function docRows(): Promise<Map<string, DocRow>> {
  const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, DocRow>();
  for (const m of doc.matchAll(/^\| `([A-Z_]+)` \| ([A-Z_]+) \((\d+)\) \| (yes|no) \| (\d+) \| (.+) \|$/gm)) {
    const [, reason, name, code, retriable, exitCode, description] = m;
    if (reason === undefined || name === undefined || description === undefined) continue;
    rows.set(reason, {
      name,
      code: Number(code),
      retriable: retriable === 'yes',
      exitCode: Number(exitCode),
      description,
    });
  }
  return rows;
}

describe('errors', () => {
  describe('when documented', () => {
    it('should be exactly what scripts/errors-doc.ts makes of REASONS', async () => {
      const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
      assert.equal(doc, errorsDoc(), 'docs/errors.md is stale: run `npx tsx scripts/errors-doc.ts > docs/errors.md`');
    });

    it('should give each reason the gRPC code, retry policy, exit code and meaning of the table, row by row', async () => {
      const rows = await docRows();
      for (const [reason, spec] of Object.entries(REASONS)) {
        const row = rows.get(reason);
        assert.ok(row !== undefined, `docs/errors.md has no row for ${reason}`);
        assert.equal(row.code, spec.grpcCode, reason);
        // The name is grpc-js's own, not a copy of the generator's table.
        assert.equal(row.name, status[spec.grpcCode], reason);
        assert.equal(row.retriable, spec.retriable, reason);
        assert.equal(row.exitCode, spec.exitCode, reason);
        assert.equal(row.description, spec.description, reason);
      }
      for (const reason of rows.keys())
        assert.ok(reason in REASONS, `docs/errors.md documents ${reason}, which REASONS does not have`);
    });

    it('should never map a reason to OK or UNKNOWN', () => {
      for (const [reason, spec] of Object.entries(REASONS))
        assert.ok(![status.OK, status.UNKNOWN].includes(spec.grpcCode as number), reason);
    });
  });

  describe('when the CLI exits on one', () => {
    it('should exit 2 for a setting, 3 for a data format and 1 for anything else', () => {
      assert.equal(exitCodeOf('INVALID_CONFIG'), 2);
      assert.equal(exitCodeOf('UNSUPPORTED_FORMAT'), 3);
      assert.equal(exitCodeOf('INVALID_ID'), 1);
      assert.equal(exitCodeOf('NOT_A_REASON'), 1);
      assert.equal(exitCodeOf('toString'), 1);
    });
  });

  describe('when raised', () => {
    it('should carry the reason, gRPC code, retry policy and structured fields', () => {
      const invalid = new InvalidIdError('orders', 9, 'ids on this subject run from 1 to 3');
      assert.deepEqual(
        [invalid.reason, invalid.grpcCode, invalid.retriable, invalid.subject, invalid.id],
        ['INVALID_ID', 3, false, 'orders', 9],
      );
      assert.equal(
        invalid.message,
        'id 9 was never published on subject "orders": ids on this subject run from 1 to 3',
      );
      const expired = new ExpiredIdError('orders', 2, 'removed by retention');
      assert.deepEqual(expired.metadata, { subject: 'orders', id: '2' });
      assert.equal(expired.message, 'id 2 on subject "orders" has expired: removed by retention');
      const large = new MessageTooLargeError(2000, 1000);
      assert.deepEqual(
        [large.reason, large.grpcCode, large.message],
        ['MESSAGE_TOO_LARGE', 8, 'body is 2000 bytes, over the limit of 1000 bytes (BROKER_MAX_BODY_BYTES)'],
      );
    });

    it('should name the variable of a bad setting and keep its cause', () => {
      const cause = new Error('underlying');
      const err = new ConfigError('BROKER_FSYNC', '"always" is not one of batch | never', { cause });
      assert.ok(err instanceof BrokerError);
      assert.deepEqual(
        [err.name, err.reason, err.variable, err.message, err.cause, err.metadata],
        [
          'ConfigError',
          'INVALID_CONFIG',
          'BROKER_FSYNC',
          'BROKER_FSYNC: "always" is not one of batch | never',
          cause,
          { variable: 'BROKER_FSYNC' },
        ],
      );
      const format = new UnsupportedFormatError('/data', '9', '1');
      assert.deepEqual([format.reason, format.found, format.supported], ['UNSUPPORTED_FORMAT', '9', '1']);
    });
  });
});
