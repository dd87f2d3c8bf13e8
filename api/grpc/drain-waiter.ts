import type { EventEmitter } from 'node:events';

/**
 * Waits for a stream's 'drain' after a write returned false, and can be released early by the session's close path,
 * so a session never stays parked on a stream that has gone. One wait at a time; the listener is always removed.
 */
export class DrainWaiter {
  private release: (() => void) | undefined;

  constructor(private readonly stream: Pick<EventEmitter, 'on' | 'off'>) {}

  /** Resolves on the stream's next 'drain', or when releaseNow() is called. */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.release = undefined;
        resolve();
      };
      this.release = done;
      this.stream.on('drain', done);
    });
  }

  releaseNow(): void {
    this.release?.();
  }
}
