import type { QuotaLimit } from './token-bucket.js';

/** The part of a server stream pacing needs (grpc-js's ServerWritableStream has it). */
interface WritableCall {
  write(chunk: Buffer, callback?: () => void): boolean;
  emit(event: 'drain'): boolean;
  readonly cancelled: boolean;
}

/**
 * Slows a Subscribe stream to its identity's delivery quota without touching the session: a write over the quota
 * still goes out (the quota goes into debt by it) but answers false, as a full stream does, and 'drain' follows once
 * the quota has room again. The session already waits for 'drain' before its next write (its backpressure path),
 * so delivery runs at the quota; the subscriber stays in the subscriber budget like any slow reader.
 */
export function paceWrites(call: WritableCall, limit: QuotaLimit): void {
  const write = call.write.bind(call);
  call.write = (chunk, callback) => {
    if (limit.tryTake(1, chunk.length) === 0) return write(chunk, callback);
    // The quota is a debt from here: take it now, and 'drain' once it is paid off.
    limit.takeAnyway(1, chunk.length);
    const full = !write(chunk, callback);
    limit.whenRoom(() => {
      if (!call.cancelled && !full) call.emit('drain');
    });
    return false;
  };
}
