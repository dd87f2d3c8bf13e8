import type { Logger } from 'pino';
import type { LogObserver } from '../../core/index.js';

/** What follows the log's health: the gRPC server's health service. */
export interface ServingStatus {
  setServing(serving: boolean): void;
}

/**
 * The log's failed and recovered writes, made visible: each failure is logged at error with its cause, the
 * recovery at info, and gRPC health reports NOT_SERVING in between (the metrics come from the wrapped observer).
 * The log can fail before the server exists; the server is told the current state when it is attached.
 */
export class LogWriteHealth {
  private serving = true;
  private status: ServingStatus | undefined;

  constructor(private readonly logger: Logger) {}

  /** `observer` with the failure events reported here as well. */
  observe(observer: LogObserver): LogObserver {
    return {
      ...observer,
      writeFailed: (err) => {
        observer.writeFailed?.(err);
        this.logger.error(
          { err },
          this.serving
            ? 'log write failed: publishes are refused until the log has recovered'
            : 'log recovery attempt failed: retrying',
        );
        this.set(false);
      },
      writeRecovered: () => {
        observer.writeRecovered?.();
        this.logger.info('log recovered: publishes are accepted again');
        this.set(true);
      },
    };
  }

  attach(status: ServingStatus): void {
    this.status = status;
    status.setServing(this.serving);
  }

  private set(serving: boolean): void {
    this.serving = serving;
    this.status?.setServing(serving);
  }
}
