import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { loadSync } from '@grpc/proto-loader';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { protoRoot, withMapEntryNames } from './reflection.js';

describe('withMapEntryNames', () => {
  describe('when a message has a map field', () => {
    it('should name its entry message <Field>Entry, as protoc does, and point the field at it', () => {
      const pkg = withMapEntryNames(
        loadSync(join(protoRoot(), 'google/rpc/error_details.proto'), { keepCase: true, includeDirs: [protoRoot()] }),
      );
      const protos = (pkg['google.rpc.ErrorInfo'] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos;
      const info = protos
        .map((b) => fromBinary(FileDescriptorProtoSchema, b))
        .flatMap((f) => f.messageType)
        .find((m) => m.name === 'ErrorInfo');
      assert.ok(info !== undefined);
      assert.deepEqual(
        info.nestedType.map((n) => [n.name, n.options?.mapEntry]),
        [['MetadataEntry', true]],
      );
      assert.match(info.field.find((f) => f.name === 'metadata')!.typeName, /(^|\.)MetadataEntry$/);
    });
  });
});
