/**
 * Calls an observer or listener: its failure is reported as a process warning (code BROKER_LOG_LISTENER) and never
 * wedges the writer or fails the read that called it.
 */
export function notify(call: () => void): void {
  try {
    call();
  } catch (err) {
    process.emitWarning(err instanceof Error ? err : new Error(String(err)), { code: 'BROKER_LOG_LISTENER' });
  }
}
