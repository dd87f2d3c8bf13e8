// The server side of `npm run bench -- channel`: broker.internal.Forwarding/Append answering at once (no log), on a
// unix socket and a TCP loopback port, so the two transports are compared with nothing else in the call.
// Prints {"port":…, "socket":…} on stdout when it listens.
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { ForwardingService, type AppendRequest, type AppendResponse } from '../../proto/gen/internal.js';

const socket = process.argv[2] ?? '/tmp/bench-channel.sock';
rmSync(socket, { force: true });
const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
server.addService(ForwardingService, {
  append(call: ServerUnaryCall<AppendRequest, AppendResponse>, callback: sendUnaryData<AppendResponse>) {
    callback(null, { results: call.request.messages.map((_, i) => ({ id: i + 1, error: undefined })) });
  },
});
const bind = (address: string): Promise<number> =>
  new Promise((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
const port = await bind('127.0.0.1:0');
await bind(`unix:${socket}`);
console.log(JSON.stringify({ port, socket }));
