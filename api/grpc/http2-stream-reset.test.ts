// resetCallStream follows grpc-js internals (no public API resets a server stream): this fails if an upgrade moves
// them. A server-streaming call queues 4 MiB to a raw HTTP/2 client that does not read (a paused stream keeps its
// 64 KiB window; a grpc-js client would take it all in); the reset must end the stream at once.
import { Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { resetCallStream } from './http2-stream-reset.js';

const identity = (b: Buffer): Buffer => b;
const service: ServiceDefinition = {
  flood: {
    path: '/reset.Test/Flood',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

describe('resetCallStream', () => {
  const server = new Server();
  let address = '';
  const calls: Array<ServerWritableStream<Buffer, Buffer>> = [];
  let flushed = 0;

  before(async () => {
    server.addService(service, {
      flood: (call: ServerWritableStream<Buffer, Buffer>) => {
        calls.push(call);
        for (let i = 0; i < 4; i++) call.write(Buffer.alloc(1024 * 1024, i), () => (flushed += 1));
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });
  after(() => server.forceShutdown());

  it('should reset the HTTP/2 stream under a grpc-js server call, cancelling it and failing the client', async () => {
    const session = http2.connect(`http://${address}`);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/reset.Test/Flood',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.pause();
      stream.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
      stream.end(Buffer.alloc(5));
      while (calls.length === 0) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(flushed, 0, 'the client does not read, so the first MiB is still queued');
      const call = calls[0] ?? assert.fail('no call');
      const cancelled = new Promise<void>((resolve) => call.once('cancelled', () => resolve()));
      assert.equal(resetCallStream(call), true, 'grpc-js changed: no HTTP/2 stream under ServerWritableStream.call');
      await cancelled;
      stream.resume();
      assert.equal(await closed, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 'RESOURCE_EXHAUSTED in gRPC clients');
    } finally {
      session.destroy();
    }
  });

  it('should answer false for an object that is not a grpc-js call', () => {
    assert.equal(resetCallStream({}), false);
    assert.equal(resetCallStream({ call: { nextCall: { stream: {} } } }), false);
  });
});
