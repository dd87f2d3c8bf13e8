// A trivial broker.Broker that answers Publish and Fetch at once and holds Subscribe streams open without data: the grpc-js transport
// ceiling on this machine, measured with the same load generator as the broker.
import { Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { BrokerService } from '../../proto/gen/broker.js';
import { enlargeHttp2Windows } from '../../api/grpc/http2-windows.js';

enlargeHttp2Windows();
let id = 0;
const server = new Server();
server.addService(BrokerService, {
  publish: (_call: unknown, cb: (e: null, r: { id: number }) => void) => cb(null, { id: ++id }),
  fetch: (call: { request: { subject: string; id: number } }, cb: (e: null, r: object) => void) =>
    cb(null, {
      body: Buffer.alloc(0),
      id: call.request.id,
      subject: call.request.subject,
      publishedAtMs: 0,
      expirationSeconds: 0,
    }),
  publishStream: (call: {
    on: (e: string, f: (x?: unknown) => void) => void;
    write: (r: { id: number }) => void;
    end: () => void;
  }) => {
    call.on('data', () => call.write({ id: ++id }));
    call.on('end', () => call.end());
  },
  // Holds the stream open with headers sent and nothing to deliver: the transport's share of an idle subscriber.
  subscribe: (call: { sendMetadata: (m: Metadata) => void }) => call.sendMetadata(new Metadata()),
  fetchRange: (_c: unknown, cb: (e: object) => void) => cb({ code: status.UNIMPLEMENTED }),
  listSubjects: (_c: unknown, cb: (e: object) => void) => cb({ code: status.UNIMPLEMENTED }),
  getSubject: (_c: unknown, cb: (e: object) => void) => cb({ code: status.UNIMPLEMENTED }),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(`echo listening ${port}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
