import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Type, FileDescriptorProtoSchema, type DescriptorProto } from '@bufbuild/protobuf/wkt';
import type { Server } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** <root>/proto, from the sources (api/grpc) and from the build (dist/api/grpc) alike. */
export function protoRoot(): string {
  const here = fileURLToPath(import.meta.url);
  const root = here.includes('/dist/')
    ? here.slice(0, here.indexOf('/dist/'))
    : fileURLToPath(new URL('../../', import.meta.url));
  return join(root, 'proto');
}

/**
 * Server reflection (grpc.reflection.v1), so `grpcurl -plaintext host:port list` and `describe` work without
 * .proto files. It describes the broker's API, the error details it sends (so grpcurl decodes
 * google.rpc.ErrorInfo), health, and reflection itself.
 */
export class BrokerReflection {
  private readonly service: ReflectionService;

  constructor(protos: { files: readonly string[]; includeDirs: readonly string[] } = reflectedProtoFiles()) {
    const pkg = loadSync([...protos.files], {
      keepCase: true,
      longs: Number,
      defaults: true,
      includeDirs: [...protos.includeDirs],
    });
    this.service = new ReflectionService(withMapEntryNames(pkg));
  }

  addToServer(server: Pick<Server, 'addService'>): void {
    this.service.addToServer(server);
  }
}

function reflectedProtoFiles(): { files: string[]; includeDirs: string[] } {
  const root = protoRoot();
  const files = [join(root, 'broker.proto'), join(root, 'google/rpc/error_details.proto'), healthProtoPath];
  // google/rpc/status.proto stays out: its google.protobuf.Any field does not resolve through proto-loader's combined
  // per-package files, and grpcurl then refuses every google.rpc symbol. grpcurl needs only ErrorInfo to decode details.
  const includeDirs = [root, dirname(healthProtoPath)];
  // @grpc/reflection ships its .proto files beside its build; describe them when they are there.
  const reflectionDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');
  const reflectionProto = join(reflectionDir, 'grpc/reflection/v1/reflection.proto');
  if (existsSync(reflectionProto)) {
    files.push(reflectionProto);
    includeDirs.push(reflectionDir);
  }
  return { files, includeDirs };
}

/**
 * protobufjs 7 (under proto-loader) names a map field's entry message `Field` instead of `FieldEntry`. Clients
 * built on Go's protodesc (grpcurl) reject such a descriptor ("incorrect implicit map entry name") and then
 * cannot describe the message (health's HealthListResponse, google.rpc.ErrorInfo). Rename the entries as protoc does.
 */
export function withMapEntryNames(pkg: PackageDefinition): PackageDefinition {
  const fixed = new Map<Buffer, Buffer>();
  const fix = (bin: Buffer): Buffer => {
    let out = fixed.get(bin);
    if (out === undefined) {
      const file = fromBinary(FileDescriptorProtoSchema, bin);
      for (const message of file.messageType) renameMapEntries(message);
      out = Buffer.from(toBinary(FileDescriptorProtoSchema, file));
      fixed.set(bin, out);
    }
    return out;
  };
  const result: PackageDefinition = {};
  for (const [name, definition] of Object.entries(pkg)) {
    const protos: unknown = (definition as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    result[name] = Array.isArray(protos)
      ? ({ ...definition, fileDescriptorProtos: (protos as Buffer[]).map(fix) } as typeof definition)
      : definition;
  }
  return result;
}

function renameMapEntries(message: DescriptorProto): void {
  for (const nested of message.nestedType) renameMapEntries(nested);
  for (const field of message.field) {
    if (field.type !== FieldDescriptorProto_Type.MESSAGE) continue;
    const entry = message.nestedType.find(
      (n) => n.options?.mapEntry === true && (field.typeName === n.name || field.typeName.endsWith(`.${n.name}`)),
    );
    if (entry === undefined || entry.name.endsWith('Entry')) continue;
    const wanted = `${field.name.replace(/(?:^|_)([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Entry`;
    field.typeName = field.typeName.slice(0, field.typeName.length - entry.name.length) + wanted;
    entry.name = wanted;
  }
}
