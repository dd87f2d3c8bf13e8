// The hand-made codecs against ts-proto's, on random messages: the same bytes out, the same objects (or the same
// error) back, with unknown fields, repeated fields, defaults and bytes that are not the message at all.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FetchRequest,
  MessageResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  PublishRequest,
  PublishResponse,
  SubscribeRequest,
} from '../../proto/gen/broker.js';
import {
  decodeFetchRequest,
  decodePublishBatchRequest,
  decodePublishRequest,
  decodeSubscribeRequest,
  encodeMessageResponse,
  encodePublishBatchResponse,
  encodePublishResponse,
} from './wire-codecs.js';

const RUNS = { numRuns: 2000 };

/** What a codec did: its result, or the error it threw. */
function outcome<T>(f: () => T): { ok: T } | { threw: string } {
  try {
    return { ok: f() };
  } catch (err) {
    return { threw: err instanceof Error ? err.message : String(err) };
  }
}

const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  fc.constant(''),
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.oneof(fc.constantFrom('a', '\uFEFF', '\uFFFD', 'é', '😀'), lone) }),
);
const body = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 1500 }).map((b) => Buffer.from(b)),
);
const int32 = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 1000 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
const int64 = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 1_000_000 }),
  fc.maxSafeNat(),
  fc.integer({ min: -(2 ** 31), max: -1 }),
  fc.constantFrom(2 ** 49 - 1, 2 ** 49, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
);

const publishRequest = fc.record({
  subject: text,
  body,
  expirationSeconds: int32,
  idempotencyKey: fc.option(text, { nil: undefined }),
});

/** Fields the messages do not have (numbers from 5 up), of every wire type but groups, as raw bytes. */
const unknownField = fc.oneof(
  fc
    .tuple(fc.integer({ min: 5, max: 5000 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }))
    .map(([no, v]) => new BinaryWriter().tag(no, 0).uint64(v).finish()),
  fc
    .tuple(fc.integer({ min: 5, max: 5000 }), fc.uint8Array({ maxLength: 40 }))
    .map(([no, b]) => new BinaryWriter().tag(no, 2).bytes(b).finish()),
  fc
    .tuple(fc.integer({ min: 5, max: 5000 }), fc.integer())
    .map(([no, v]) => new BinaryWriter().tag(no, 5).sfixed32(v).finish()),
  fc
    .tuple(fc.integer({ min: 5, max: 5000 }), fc.double())
    .map(([no, v]) => new BinaryWriter().tag(no, 1).double(v).finish()),
);

/** The message's bytes with unknown fields put in front, behind, or both; sometimes a known field twice. */
function withNoise(encoded: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(encoded, fc.array(unknownField, { maxLength: 3 }), fc.array(unknownField, { maxLength: 3 }), fc.boolean())
    .map(([bytes, front, back, twice]) => Buffer.concat([...front, bytes, ...back, ...(twice ? [bytes] : [])]));
}

function sameDecode<T>(ours: (b: Buffer) => T, theirs: (b: Buffer) => T, bytes: fc.Arbitrary<Buffer>): void {
  fc.assert(
    fc.property(bytes, (b) => {
      assert.deepStrictEqual(
        outcome(() => ours(b)),
        outcome(() => theirs(b)),
      );
    }),
    RUNS,
  );
}

const garbage = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));

describe('wire codecs', () => {
  describe('when decoding requests', () => {
    it('should decode a PublishRequest as ts-proto does', () => {
      const bytes = withNoise(publishRequest.map((m) => PublishRequest.encode(m).finish()));
      sameDecode(decodePublishRequest, (b) => PublishRequest.decode(b), fc.oneof(bytes, garbage));
    });

    it('should decode a PublishBatchRequest as ts-proto does', () => {
      const batch = fc
        .array(publishRequest, { maxLength: 8 })
        .map((messages) => PublishBatchRequest.encode({ messages }).finish());
      sameDecode(decodePublishBatchRequest, (b) => PublishBatchRequest.decode(b), fc.oneof(withNoise(batch), garbage));
    });

    it('should decode Subscribe and Fetch requests as ts-proto does', () => {
      const pair = fc.tuple(text, int64);
      const sub = withNoise(pair.map(([subject, fromId]) => SubscribeRequest.encode({ subject, fromId }).finish()));
      sameDecode(decodeSubscribeRequest, (b) => SubscribeRequest.decode(b), fc.oneof(sub, garbage));
      const fetch = withNoise(pair.map(([subject, id]) => FetchRequest.encode({ subject, id }).finish()));
      sameDecode(decodeFetchRequest, (b) => FetchRequest.decode(b), fc.oneof(fetch, garbage));
    });

    it('should refuse an id past 2^53 as ts-proto does (safeDecoder turns it into INVALID_ARGUMENT)', () => {
      const bytes = Buffer.from(
        new BinaryWriter()
          .tag(1, 2)
          .string('s')
          .tag(2, 0)
          .int64(2n ** 60n)
          .finish(),
      );
      assert.deepStrictEqual(
        outcome(() => decodeFetchRequest(bytes)),
        outcome(() => FetchRequest.decode(bytes)),
      );
      assert.ok('threw' in outcome(() => decodeFetchRequest(bytes)));
    });

    it('should give every request its own body', () => {
      const a = decodePublishRequest(
        Buffer.from(PublishRequest.encode({ subject: 's', body: Buffer.alloc(0), expirationSeconds: 0 }).finish()),
      );
      const b = decodePublishRequest(Buffer.alloc(0));
      assert.notStrictEqual(a.body, b.body);
    });
  });

  describe('when encoding responses', () => {
    it('should encode a PublishResponse byte for byte as ts-proto does', () => {
      fc.assert(
        fc.property(int64, (id) => {
          assert.deepStrictEqual(
            outcome(() => encodePublishResponse({ id })),
            outcome(() => Buffer.from(PublishResponse.encode({ id }).finish())),
          );
        }),
        RUNS,
      );
    });

    it('should encode a PublishBatchResponse byte for byte as ts-proto does', () => {
      fc.assert(
        fc.property(fc.array(int64, { maxLength: 200 }), (ids) => {
          assert.deepStrictEqual(
            outcome(() => encodePublishBatchResponse({ ids })),
            outcome(() => Buffer.from(PublishBatchResponse.encode({ ids }).finish())),
          );
        }),
        RUNS,
      );
    });

    it('should encode a MessageResponse byte for byte as ts-proto does', () => {
      const message = fc.record({ body, id: int64, subject: text, publishedAtMs: int64, expirationSeconds: int32 });
      fc.assert(
        fc.property(message, (m) => {
          assert.deepStrictEqual(
            outcome(() => encodeMessageResponse(m)),
            outcome(() => Buffer.from(MessageResponse.encode(m).finish())),
          );
        }),
        RUNS,
      );
    });
  });
});
