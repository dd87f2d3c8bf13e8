import type { Logger } from 'pino';

/**
 * What startBroker has opened, closed in reverse order exactly once. A part that fails to close is logged and the
 * rest still close (the log last: it must be flushed whatever else failed); the first failure is then rethrown.
 */
export class OpenedParts {
  private readonly parts: Array<{ name: string; close: () => Promise<void> }> = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, close: () => Promise<void>): void {
    this.parts.push({ name, close });
  }

  closeAll(): Promise<void> {
    this.closing ??= this.closeInReverse();
    return this.closing;
  }

  private async closeInReverse(): Promise<void> {
    this.logger.info('shutting down');
    let failure: { err: unknown } | undefined;
    for (const part of [...this.parts].reverse()) {
      try {
        await part.close();
      } catch (err) {
        this.logger.error({ err, part: part.name }, 'closing failed');
        failure ??= { err };
      }
    }
    this.logger.info('stopped');
    if (failure !== undefined) throw failure.err;
  }
}
