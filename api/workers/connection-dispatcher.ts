import type { Worker } from 'node:cluster';
import net from 'node:net';
import type { Logger } from 'pino';
import { listenPort } from '../server/listen-port.js';
import type { HandedPort, PrimaryConnectionMessage } from './cluster-messages.js';

/** Connections held while no worker serves (all starting or restarting); past it a newcomer is closed. */
const MAX_WAITING = 1_024;

/**
 * A public port of a broker of several workers (the gRPC port, the health port), listened on by the primary, which
 * hands each accepted connection to the next worker that serves, in turn.
 *
 * Not node:cluster's round robin: that one keeps its copy of a connection until the worker answers that it took it,
 * and a worker that dies first never answers. Its copy then stays open with nobody serving it, and the client waits
 * on a connection that never speaks (30 of 60 clients connecting as a worker was SIGKILLed, in
 * api/e2e/worker-crash-connections.e2e.test.ts). Here every connection handed to a worker is remembered until the
 * worker says it took it ('broker:connection-adopted'); when a worker exits, those it never took are closed, and the
 * client reconnects at once. A connection is never handed on to another worker instead: the dead one may have read
 * its first bytes.
 */
export class ConnectionDispatcher {
  private readonly server: net.Server;
  private readonly serving: Worker[] = [];
  private next = 0;
  private nextId = 1;
  /** Connections handed to a worker that has not said it took them, by id. */
  private readonly handed = new Map<number, { readonly socket: net.Socket; readonly worker: Worker }>();
  /** Connections accepted while no worker served, oldest first. */
  private readonly waiting: net.Socket[] = [];
  private closed = false;

  constructor(
    private readonly port: HandedPort,
    private readonly logger: Logger,
    /**
     * Connections handed out and not yet taken, at most (BROKER_MAX_CONNECTIONS for the gRPC port): the primary keeps
     * a copy of each until its worker takes it, so a burst of connections (300 silent sockets at once on a loaded
     * machine) would otherwise hold that many descriptors in the primary too; past it a newcomer is closed at once.
     */
    private readonly maxHanded = MAX_WAITING,
  ) {
    // Paused: the primary never reads a byte of a connection; the worker that takes it reads them all.
    this.server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accepted(socket));
  }

  /** Binds host:port (0 = any free port) and resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    return listenPort(this.server, this.port === 'grpc' ? 'gRPC' : 'the health port', host, port);
  }

  /** The worker serves: it takes its turn of new connections, and those waiting for a worker go out now. */
  workerServing(worker: Worker): void {
    if (!this.serving.includes(worker)) this.serving.push(worker);
    for (const socket of this.waiting.splice(0)) this.dispatch(socket);
  }

  /** The worker took a connection: the primary's copy is closed (the worker's stays open). */
  adopted(id: number): void {
    this.closeHanded(id);
  }

  /** The worker is gone: it gets no more connections, and those it had not taken are closed. */
  workerGone(worker: Worker): void {
    const at = this.serving.indexOf(worker);
    if (at >= 0) this.serving.splice(at, 1);
    let closed = 0;
    for (const [id, entry] of this.handed) {
      if (entry.worker !== worker) continue;
      this.handed.delete(id);
      entry.socket.destroy();
      closed += 1;
    }
    if (closed > 0) this.logger.info({ port: this.port, closed }, 'closed connections a dead worker never took');
  }

  /**
   * Stops accepting (a shutdown) and closes the connections no worker has; those handed out are the workers' to
   * drain. Not waited for: node's server.close() calls back only once every connection it handed out has closed in
   * its worker, which is what the workers' drain, started after this, does.
   */
  close(): void {
    this.closed = true;
    for (const socket of this.waiting.splice(0)) socket.destroy();
    this.server.close();
  }

  private accepted(socket: net.Socket): void {
    // A client's reset while the connection waits or travels is not the broker's error.
    socket.on('error', () => undefined);
    if (this.closed) socket.destroy();
    else this.dispatch(socket);
  }

  private dispatch(socket: net.Socket): void {
    const worker = this.pick();
    if (worker === undefined) {
      if (this.waiting.length < MAX_WAITING) this.waiting.push(socket);
      else socket.destroy();
      return;
    }
    if (this.handed.size >= this.maxHanded) {
      this.logger.debug({ port: this.port, limit: this.maxHanded }, 'connection closed: too many still being handed');
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    this.handed.set(id, { socket, worker });
    const message: PrimaryConnectionMessage = { type: 'broker:connection', port: this.port, id };
    // keepOpen: the primary's copy stays open until the worker says it took it (or dies), then this closes it.
    worker.send(message, socket, { keepOpen: true }, (err: Error | null) => {
      // Never sent (the channel closed): the client's connection is closed, and it reconnects.
      if (err !== null) this.closeHanded(id);
    });
  }

  private closeHanded(id: number): void {
    const entry = this.handed.get(id);
    if (entry === undefined) return;
    this.handed.delete(id);
    entry.socket.destroy();
  }

  /** The next serving worker in turn, skipping any whose channel has closed (its exit is on the way). */
  private pick(): Worker | undefined {
    for (let tried = 0; tried < this.serving.length; tried++) {
      const worker = this.serving[this.next++ % this.serving.length];
      if (worker?.isConnected() === true) return worker;
    }
    return undefined;
  }
}
