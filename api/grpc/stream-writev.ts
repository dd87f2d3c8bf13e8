import type { Writable } from 'node:stream';

/** The part of grpc-js's server call a stream writes through (frames one message, writes it to the HTTP/2 stream). */
interface MessageSender {
  sendMessage(message: unknown, callback: (err?: Error | null) => void): void;
}

type Callback = (err?: Error | null) => void;
type WritevStream = Writable & { _writev?: (chunks: Array<{ chunk: unknown }>, callback: Callback) => void };

function isSender(value: unknown): value is MessageSender {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'sendMessage') === 'function';
}

/**
 * grpc-js's server streams implement only `_write`, so a Writable hands them one message at a time and waits for
 * its HTTP/2 write to complete, which Node finishes in the loop turn after (the session sends pending data from an
 * immediate). One message per stream per loop turn: a PublishStream's acks and a Subscribe stream's deliveries go
 * no faster than the loop turns, and a turn gets long exactly when the broker is busiest (under a 300-subscriber
 * fan-out a publisher got 540 of 1,000 msg/s through, 1,000 acks queued in grpc-js while the log had 10 pending).
 * With `_writev`, everything the Writable buffered meanwhile goes to the call at once, so one turn sends them all
 * (grpc-node issue 2899 asks for this upstream). Each message is still framed and written by grpc-js; only the
 * waiting between them goes. A stream that is not grpc-js's (no `call.sendMessage`) is left as it is.
 *
 * @returns whether the stream now writes in batches
 */
export function writeInBatches(stream: Writable): boolean {
  const target = stream as WritevStream;
  const call: unknown = Reflect.get(stream, 'call');
  if (!isSender(call) || typeof target._writev === 'function') return false;
  target._writev = (chunks, callback) => {
    let left = chunks.length;
    let failure: Error | null | undefined;
    const sent: Callback = (err) => {
      if (err && failure === undefined) failure = err;
      left -= 1;
      if (left === 0) callback(failure);
    };
    for (const { chunk } of chunks) call.sendMessage(chunk, sent);
  };
  return true;
}
