// Ids beyond 2^53 on the wire (int64; the generated code decodes them as numbers): raw-encoded requests through a
// real client, over loopback gRPC, to a service on a real LevelDB log.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Client, credentials, status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempLog } from '../../log/test-support/temp-log.js';
import { ErrorInfo } from '../../proto/gen/google/rpc/error_details.js';
import { Status } from '../../proto/gen/google/rpc/status.js';
import { serveInProcess } from '../test-support/in-process-service.js';

const UNSAFE = [2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)];

/** subject = 1 (string), then an int64 field at `fieldNo`, then more int32 fields if given: built by hand. */
function encode(subject: string, fieldNo: number, id: bigint, more: Array<[number, number]> = []): Buffer {
  const w = new BinaryWriter().tag(1, 2).string(subject).tag(fieldNo, 0).int64(id);
  for (const [no, value] of more) w.tag(no, 0).int32(value);
  return Buffer.from(w.finish());
}

interface Failure {
  code: number;
  message: string;
  reason: string | undefined;
  field: string | undefined;
}

function failureOf(err: ServiceError): Failure {
  const raw = (err.metadata as Metadata | undefined)?.get('grpc-status-details-bin')[0];
  let info: ErrorInfo | undefined;
  if (raw !== undefined && typeof raw !== 'string') {
    const any = Status.decode(raw).details[0];
    if (any !== undefined) info = ErrorInfo.decode(any.value);
  }
  return { code: err.code, message: err.details, reason: info?.reason, field: info?.metadata['field'] };
}

describe('the broker.Broker request decoding', () => {
  let raw: Client;
  let ctx: Awaited<ReturnType<typeof tempLog>>;
  let served: Awaited<ReturnType<typeof serveInProcess>>;

  before(async () => {
    ctx = await tempLog();
    await ctx.log.append({ subject: 'ids', body: Buffer.from('one'), expirationSeconds: 0 });
    served = await serveInProcess({ writer: ctx.log, reader: ctx.log });
    raw = new Client(served.address, credentials.createInsecure());
  });
  after(async () => {
    raw.close();
    served.close();
    await ctx.dispose();
  });

  const unary = (method: string, bytes: Buffer): Promise<Failure> =>
    new Promise((resolve, reject) =>
      raw.makeUnaryRequest(
        `/broker.Broker/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        (err) => (err === null ? reject(new Error(`${method} succeeded`)) : resolve(failureOf(err))),
      ),
    );

  const stream = (bytes: Buffer): Promise<Failure> =>
    new Promise((resolve, reject) => {
      const call = raw.makeServerStreamRequest(
        '/broker.Broker/Subscribe',
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
      );
      call.on('data', () => reject(new Error('Subscribe delivered a message')));
      call.on('error', (err: ServiceError) => resolve(failureOf(err)));
      call.on('end', () => reject(new Error('Subscribe ended without a status')));
    });

  for (const id of UNSAFE) {
    describe(`when an id of ${id} is sent`, () => {
      it('should answer Fetch with INVALID_ARGUMENT naming the field id', async () => {
        const failure = await unary('Fetch', encode('ids', 2, id));
        assert.deepEqual(failure, {
          code: status.INVALID_ARGUMENT,
          reason: 'INVALID_ARGUMENT',
          field: 'id',
          message: `id ${id} is out of range: ids run from 1 to 2^53 - 1 (9007199254740991)`,
        });
      });

      it('should answer FetchRange with INVALID_ARGUMENT naming the field from_id', async () => {
        const failure = await unary('FetchRange', encode('ids', 2, id, [[3, 10]]));
        assert.deepEqual(failure, {
          code: status.INVALID_ARGUMENT,
          reason: 'INVALID_ARGUMENT',
          field: 'from_id',
          message: `from_id ${id} is out of range: ids run from 1 to 2^53 - 1 (9007199254740991)`,
        });
      });

      it('should end Subscribe with INVALID_ARGUMENT naming the field from_id', async () => {
        const failure = await stream(encode('ids', 2, id));
        assert.equal(failure.code, status.INVALID_ARGUMENT);
        assert.equal(failure.reason, 'INVALID_ARGUMENT');
        assert.equal(failure.field, 'from_id');
      });
    });
  }

  describe('when the bytes are not a request at all', () => {
    it('should answer INVALID_ARGUMENT naming the request, not INTERNAL', async () => {
      const failure = await unary('Fetch', Buffer.from([0x0a, 0x7f, 0x61]));
      assert.equal(failure.code, status.INVALID_ARGUMENT);
      assert.equal(failure.field, 'request');
      assert.match(failure.message, /^the request is not a valid broker\.FetchRequest: /);
    });
  });

  describe('when the id is the largest safe integer', () => {
    it('should decode it and answer as for any id never published (INVALID_ID)', async () => {
      const failure = await unary('Fetch', encode('ids', 2, 2n ** 53n - 1n));
      assert.equal(failure.reason, 'INVALID_ID');
    });
  });
});
