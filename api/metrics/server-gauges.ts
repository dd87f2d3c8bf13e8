import { statfs } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the connection gate counts (api/server/connection-gate.ts), read at each scrape. */
export interface ConnectionCounts {
  readonly open: number;
  readonly refused: number;
  readonly closedInHandshake: number;
}

/**
 * Gauges read at scrape time rather than kept on the hot path: the client connections the broker's own listener
 * holds and has turned away, and the data dir's file system (size and free, as the storage floor
 * BROKER_MIN_FREE_BYTES sees it), so "disk nearly full" is a broker metric wherever it runs, not only on Kubernetes.
 */
export function registerServerGauges(registry: Registry, connections: () => ConnectionCounts, dataDir: string): void {
  const registers = [registry];
  new Gauge({
    name: 'broker_connections_open',
    help: 'client connections open on the gRPC port (in their handshake or established)',
    registers,
    collect() {
      this.set(connections().open);
    },
  });
  let counted = { refused: 0, closedInHandshake: 0 };
  new Counter({
    name: 'broker_connections_closed_total',
    help: 'connections the broker closed on accepting them: refused at BROKER_MAX_CONNECTIONS, or in their handshake',
    labelNames: ['why'],
    registers,
    collect() {
      const now = connections();
      this.inc({ why: 'limit' }, now.refused - counted.refused);
      this.inc({ why: 'handshake' }, now.closedInHandshake - counted.closedInHandshake);
      counted = { refused: now.refused, closedInHandshake: now.closedInHandshake };
    },
  });
  const fileSystem = (read: (s: { bavail: number; blocks: number; bsize: number }) => number) =>
    async function collect(this: Gauge): Promise<void> {
      // A failed statfs leaves the last figure: the scrape still answers, and the log reports its own statfs failures.
      const s = await statfs(dataDir).catch(() => undefined);
      if (s !== undefined) this.set(read(s));
    };
  new Gauge({
    name: 'broker_storage_free_bytes',
    help: "bytes an unprivileged writer may still use on the data dir's file system",
    registers,
    collect: fileSystem((s) => s.bavail * s.bsize),
  });
  new Gauge({
    name: 'broker_storage_size_bytes',
    help: "size of the data dir's file system in bytes",
    registers,
    collect: fileSystem((s) => s.blocks * s.bsize),
  });
}
