import type { EventEmitter } from 'node:events';
import type { Writable } from 'node:stream';
import { callHttp2Stream } from './http2-stream-reset.js';

/** gRPC's length prefix before each message on the wire: a compressed flag (0) and the length, big-endian. */
export const FRAME_HEADER_BYTES = 5;

/** One encoded message with its gRPC length prefix, ready to be written to the HTTP/2 stream as it is. */
export function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(message.length + FRAME_HEADER_BYTES);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, FRAME_HEADER_BYTES);
  return framed;
}

/** Where a Subscribe stream's deliveries go: gRPC-framed messages, several per write. */
export interface FramedSink {
  /**
   * Writes `frames` (each a framed message; `bytes` their total length) as one write; `sent` runs once they are
   * handed to the transport or dropped with the stream. False: wait for 'drain' on `events` before writing more.
   */
  write(frames: readonly Buffer[], bytes: number, sent: () => void): boolean;
  /** Emits 'drain' when a false write has been taken, 'finish' / 'close' when the stream is done. */
  readonly events: Pick<EventEmitter, 'on' | 'off'>;
  /** Whether the writes skip grpc-js and go to the HTTP/2 stream (what the tests check). */
  readonly direct: boolean;
}

/** The call as a Subscribe handler has it: a Writable of encoded messages that grpc-js frames one at a time. */
type MessageWritable = Pick<Writable, 'write' | 'on' | 'off'> & object;

/**
 * Under a 1,000-subscriber fan-out most of the broker's CPU went to writing each delivery through two Writables
 * (grpc-js's call, then the HTTP/2 stream), grpc-js's framing (a new buffer and a copy per message per stream) and
 * one native HTTP/2 write, write request and completion callback per message, and a tenth of it to the garbage
 * those left. A delivery's bytes are the same on every stream, so they are framed once (EncodedMessages) and the
 * frames of one scheduler pump go to the HTTP/2 stream in one write: one DATA frame and one callback for up to a
 * quantum of messages. grpc-js has no public way to write framed bytes, so this follows its internal links
 * (callHttp2Stream), which a grpc-js upgrade is checked against by framed-writes.test.ts; ordering with the
 * call's status holds because grpc-js ends the same HTTP/2 stream after what was written to it. A call whose
 * write someone wrapped (a caller's paced delivery quota) or whose stream is not found keeps the grpc-js path,
 * one message per write.
 */
export function framedSink(call: MessageWritable): FramedSink {
  const stream = Object.hasOwn(call, 'write') ? undefined : callHttp2Stream(call);
  if (stream === undefined) return viaCall(call);
  return {
    direct: true,
    events: stream,
    write(frames, bytes, sent) {
      const only = frames.length === 1 ? frames[0] : undefined;
      const chunk = only ?? Buffer.concat(frames, bytes);
      // An error means the stream is gone; grpc-js hears that from the stream itself and cancels the call.
      return stream.write(chunk, () => sent());
    },
  };
}

/** The grpc-js path: each message written to the call (which frames it again), `sent` once the last one is sent. */
function viaCall(call: MessageWritable): FramedSink {
  return {
    direct: false,
    events: call,
    write(frames, _bytes, sent) {
      let left = frames.length;
      const one = (): void => {
        left -= 1;
        if (left === 0) sent();
      };
      let room = true;
      for (const framed of frames) room = call.write(framed.subarray(FRAME_HEADER_BYTES), one);
      return room;
    },
  };
}
