import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { InvalidArgumentError } from '../../core/index.js';

/** Marks a request the deserializer could not decode; the guard of its entry point throws what it holds. */
const REJECTED = Symbol('rejected');

const MAX_ID = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_ID = BigInt(Number.MIN_SAFE_INTEGER);

/** What the generated message functions offer for this (ts-proto's MessageFns). */
interface MessageCodec<T> {
  decode(input: Uint8Array): T;
  create(): T;
}

/**
 * A request deserializer that never throws. ts-proto (forceLong=number) throws on an int64 beyond 2^53, and grpc-js
 * answers a throwing deserializer with INTERNAL "Error deserializing request" before any handler runs: a client
 * error reported as the broker's. Here a request that fails to decode becomes an empty request carrying an
 * InvalidArgumentError that names the field (or the request, for bytes that are not the message at all); the guard
 * throws it, so the client gets INVALID_ARGUMENT through the one error mapping. The decode itself is unchanged: the
 * field scan runs only after a failure.
 */
export function safeDecoder<T extends object>(
  codec: MessageCodec<T>,
  typeName: string,
  int64Fields: Readonly<Record<number, string>>,
): (bytes: Buffer) => T {
  return (bytes) => {
    try {
      return codec.decode(bytes);
    } catch (err) {
      return Object.assign(codec.create(), { [REJECTED]: rejection(bytes, typeName, int64Fields, err) });
    }
  };
}

/** Throws the error safeDecoder attached to a request it could not decode; any other request passes. */
export function rejectUndecodable(request: object): void {
  if (!(REJECTED in request)) return;
  const err = request[REJECTED];
  if (err instanceof InvalidArgumentError) throw err;
}

/** Why the bytes did not decode: the first int64 field outside the safe integers, else the decoder's own words. */
function rejection(
  bytes: Uint8Array,
  typeName: string,
  int64Fields: Readonly<Record<number, string>>,
  cause: unknown,
): InvalidArgumentError {
  try {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [fieldNo, wireType] = reader.tag();
      const field = int64Fields[fieldNo];
      if (field === undefined || wireType !== WireType.Varint) {
        reader.skip(wireType, fieldNo);
        continue;
      }
      const value = BigInt(reader.int64());
      if (value > MAX_ID || value < MIN_ID) {
        return new InvalidArgumentError(
          field,
          `${field} ${value} is out of range: ids run from 1 to 2^53 - 1 (${Number.MAX_SAFE_INTEGER})`,
          { cause },
        );
      }
    }
  } catch {
    // Not even the wire format: fall through to the decoder's own message.
  }
  const why = cause instanceof Error ? cause.message : String(cause);
  return new InvalidArgumentError('request', `the request is not a valid ${typeName}: ${why}`, { cause });
}
