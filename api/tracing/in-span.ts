import type { Tracing } from '../../core/index.js';

/**
 * Runs `work` inside a new span that ends with it (failed if it rejects): a child of the active span, or with
 * `root`, the first span of a trace of its own (background work, which must not inherit whatever context happened to
 * schedule it). Just `work()` when tracing is off.
 */
export function inSpan<T>(
  tracing: Tracing | undefined,
  name: string,
  attributes: Readonly<Record<string, string | number>>,
  work: () => Promise<T>,
  root = false,
): Promise<T> {
  if (tracing === undefined) return work();
  const run = async (): Promise<T> => {
    const span = tracing.start(name);
    for (const [key, value] of Object.entries(attributes)) span.set(key, value);
    try {
      return await tracing.within(span, work);
    } catch (err) {
      span.fail(err);
      throw err;
    } finally {
      span.end();
    }
  };
  return root ? tracing.resume(undefined, run) : run();
}
