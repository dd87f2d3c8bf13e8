import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { errorsDoc } from '../scripts/errors-doc.js';
import { ExpiredIdError, InvalidIdError, MessageTooLargeError, REASONS } from './index.js';

describe('errors', () => {
  describe('when documented', () => {
    it('should list every reason in docs/errors.md and no other', async () => {
      const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
      assert.equal(doc, errorsDoc(), 'docs/errors.md is stale: run `npx tsx scripts/errors-doc.ts > docs/errors.md`');
      const documented = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
      assert.deepEqual(documented.sort(), Object.keys(REASONS).sort());
    });

    it('should give each reason the gRPC code, retry policy and meaning of the table, row by row', async () => {
      const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
      const rows = new Map(
        [...doc.matchAll(/^\| `([A-Z_]+)` \| ([A-Z_]+) \((\d+)\) \| (yes|no) \| (.+) \|$/gm)].map((m) => [
          m[1]!,
          { name: m[2]!, code: Number(m[3]), retriable: m[4] === 'yes', description: m[5]! },
        ]),
      );
      for (const [reason, spec] of Object.entries(REASONS)) {
        const row = rows.get(reason);
        assert.ok(row !== undefined, `docs/errors.md has no row for ${reason}`);
        assert.equal(row.code, spec.grpcCode, reason);
        // The name is grpc-js's own, not a copy of the generator's table.
        assert.equal(row.name, status[spec.grpcCode], reason);
        assert.equal(row.retriable, spec.retriable, reason);
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
  });
});
