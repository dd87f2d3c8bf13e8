import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
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
    this.service = new ReflectionService(withDescriptorFixes(pkg));
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

/** The descriptors as protoc would write them: map entries named `<Field>Entry`, every file's imports listed. */
export function withDescriptorFixes(pkg: PackageDefinition): PackageDefinition {
  return withDependencies(withMapEntryNames(pkg));
}

/**
 * proto-loader combines each package into one file (`google_rpc.proto`) and lists no imports, so a field of another
 * package's type (RetryInfo's google.protobuf.Duration) does not resolve in a client's descriptor pool and grpcurl
 * then refuses every symbol of the file. Add as imports the files that define the types a file's fields name.
 */
export function withDependencies(pkg: PackageDefinition): PackageDefinition {
  const files = new Map<string, FileDescriptorProto>();
  for (const definition of Object.values(pkg)) {
    for (const bin of fileDescriptorProtosOf(definition) ?? []) {
      const file = fromBinary(FileDescriptorProtoSchema, bin);
      files.set(file.name, file);
    }
  }
  const definedIn = new Map<string, string>();
  for (const file of files.values()) {
    for (const name of typeNames(file)) definedIn.set(name, file.name);
  }
  const fixed = new Map<Buffer, Buffer>();
  const fix = (bin: Buffer): Buffer => {
    let out = fixed.get(bin);
    if (out === undefined) {
      const file = fromBinary(FileDescriptorProtoSchema, bin);
      const needed = new Set(file.dependency);
      const root = file.package === '' ? '' : `.${file.package}`;
      for (const field of fieldsIn(root, file.messageType)) {
        const absolute = resolveType(field.scope, field.proto.typeName, definedIn);
        if (absolute === undefined) continue;
        field.proto.typeName = absolute;
        const home = definedIn.get(absolute);
        if (home !== undefined && home !== file.name) needed.add(home);
      }
      file.dependency = [...needed];
      out = Buffer.from(toBinary(FileDescriptorProtoSchema, file));
      fixed.set(bin, out);
    }
    return out;
  };
  return mapDescriptors(pkg, fix);
}

function fileDescriptorProtosOf(definition: unknown): Buffer[] | undefined {
  const protos: unknown = (definition as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
  return Array.isArray(protos) ? (protos as Buffer[]) : undefined;
}

function mapDescriptors(pkg: PackageDefinition, fix: (bin: Buffer) => Buffer): PackageDefinition {
  const result: PackageDefinition = {};
  for (const [name, definition] of Object.entries(pkg)) {
    const protos = fileDescriptorProtosOf(definition);
    result[name] =
      protos === undefined
        ? definition
        : ({ ...definition, fileDescriptorProtos: protos.map(fix) } as typeof definition);
  }
  return result;
}

/** Fully qualified names (`.pkg.Msg`, `.pkg.Msg.Nested`) of the messages and enums a file defines. */
function typeNames(file: FileDescriptorProto): string[] {
  const names: string[] = [];
  const visit = (prefix: string, messages: readonly DescriptorProto[]): void => {
    for (const message of messages) {
      const name = `${prefix}.${message.name}`;
      names.push(name);
      for (const e of message.enumType) names.push(`${name}.${e.name}`);
      visit(name, message.nestedType);
    }
  };
  const root = file.package === '' ? '' : `.${file.package}`;
  for (const e of file.enumType) names.push(`${root}.${e.name}`);
  visit(root, file.messageType);
  return names;
}

/** Every field naming a message or enum type, with the scope (`.pkg.Msg`) its relative type name is read in. */
function fieldsIn(
  scope: string,
  messages: readonly DescriptorProto[],
): { scope: string; proto: FieldDescriptorProto }[] {
  return messages.flatMap((m) => {
    const inner = `${scope}.${m.name}`;
    return [
      ...m.field.filter((f) => f.typeName !== '').map((proto) => ({ scope: inner, proto })),
      ...fieldsIn(inner, m.nestedType),
    ];
  });
}

/**
 * protobufjs writes a type name as the .proto spelt it (`protobuf.Duration` inside package google.rpc); protoc writes
 * it absolute. Resolve it as protoc does: innermost scope first, then each enclosing one.
 */
function resolveType(scope: string, typeName: string, known: ReadonlyMap<string, string>): string | undefined {
  if (typeName.startsWith('.')) return typeName;
  for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
    const candidate = `${at}.${typeName}`;
    if (known.has(candidate)) return candidate;
    if (at === '') return undefined;
  }
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
  return mapDescriptors(pkg, fix);
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
