import net from 'node:net';
import type { Logger } from 'pino';
import { listenPort } from './listen-port.js';

/** The client connection preface every HTTP/2 connection opens with (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The content type of a TLS handshake record (RFC 8446 §5.1), the first byte a TLS client sends. */
const TLS_HANDSHAKE_RECORD = 22;

/** How a connection opened: plaintext HTTP/2 (h2c) or TLS. */
export type Protocol = 'h2c' | 'tls';

export interface ConnectionGateOptions {
  /** Open connections allowed (BROKER_MAX_CONNECTIONS); one beyond it is closed at once. */
  readonly maxConnections: number;
  /** A connection that has not sent the whole HTTP/2 preface this long after it opened is closed, in ms. */
  readonly handshakeTimeoutMs: number;
  readonly logger: Logger;
}

/** What the gate counts, for logs and tests. */
export interface ConnectionGateStats {
  readonly open: number;
  /** Connections closed as accepted: the limit was reached and every open one had completed its handshake. */
  readonly refused: number;
  /** Connections closed in their handshake: silent past the timeout, not HTTP/2, or displaced at the limit. */
  readonly closedInHandshake: number;
}

/**
 * The broker's listening socket. grpc-js's Server has no connection limit and no handshake timeout, so the broker
 * listens itself (a net.Server) and hands each accepted socket to grpc-js through its public connection injector
 * once the client has sent the HTTP/2 preface. At most `maxConnections` sockets are open: at the limit, a new one
 * takes the place of the oldest still in its handshake (a client that has not sent the preface yet), so silent
 * sockets cannot lock real clients out; when every open socket has completed its handshake the newcomer is closed.
 * A socket that stays silent is closed after `handshakeTimeoutMs` without ever costing grpc-js a session. The bytes
 * read to see the preface stay in the socket's buffer, and node:http2 feeds them to the session it creates on it.
 */
export class ConnectionGate {
  private readonly server: net.Server;
  /** Sockets accepted that have not sent the preface yet, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<net.Socket>();
  /** Sockets open, handshake or not; one closed by the gate leaves at once (its 'close' comes a tick later). */
  private readonly open = new Set<net.Socket>();
  private refused = 0;
  private closedInHandshake = 0;
  private closed = false;

  constructor(
    /** Takes a socket that opened with the HTTP/2 preface ('h2c') or with a TLS record ('tls'). */
    private readonly inject: (socket: net.Socket, protocol: Protocol) => void,
    private readonly options: ConnectionGateOptions,
  ) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.accepted(socket));
  }

  get stats(): ConnectionGateStats {
    return { open: this.open.size, refused: this.refused, closedInHandshake: this.closedInHandshake };
  }

  /** Binds host:port (0 = any free port) and resolves with the port bound. */
  listen(host: string, port: number): Promise<number> {
    return listenPort(this.server, 'gRPC', host, port);
  }

  /** A connection accepted elsewhere (a worker's, handed over by the primary), gated as if accepted here. */
  adopt(socket: net.Socket): void {
    if (this.closed) socket.destroy();
    else this.accepted(socket);
  }

  /** Stops accepting and closes the sockets still in their handshake; established ones are grpc-js's to close. */
  close(): Promise<void> {
    this.closed = true;
    for (const socket of this.waiting) socket.destroy();
    this.waiting.clear();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accepted(socket: net.Socket): void {
    // A reset from the peer before or after the handshake is not the broker's error; grpc-js handles its own.
    socket.on('error', () => undefined);
    if (this.open.size >= this.options.maxConnections && !this.makeRoom()) {
      this.refused += 1;
      this.options.logger.debug({ limit: this.options.maxConnections }, 'connection refused: BROKER_MAX_CONNECTIONS');
      socket.destroy();
      return;
    }
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    this.waiting.add(socket);
    const timer = setTimeout(() => this.reject(socket, 'timeout'), this.options.handshakeTimeoutMs);
    timer.unref();
    const done = (): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      this.waiting.delete(socket);
    };
    const onReadable = (): void => {
      // A partial preface waits for the rest (or the timeout); only a whole one is checked and handed on.
      if (socket.readableLength < HTTP2_PREFACE.length) return;
      done();
      const protocol = this.protocolOf(socket);
      if (protocol !== undefined) this.inject(socket, protocol);
      else this.reject(socket, 'not HTTP/2');
    };
    socket.on('readable', onReadable);
    socket.once('close', done);
  }

  /** At the limit: closes the oldest socket still in its handshake, if any, so a newcomer can have its place. */
  private makeRoom(): boolean {
    const oldest = this.waiting.values().next();
    if (oldest.done === true) return false;
    this.reject(oldest.value, 'displaced');
    return true;
  }

  /**
   * What the socket's first bytes open: the HTTP/2 preface, or a TLS handshake record (content type 22, version 3.x:
   * a ClientHello, always longer than the preface); they stay in its buffer for the session to read.
   */
  private protocolOf(socket: net.Socket): Protocol | undefined {
    // Peek without consuming: read() takes the buffered bytes, unshift() puts them back at the front. The readable
    // listener is already gone, so the unshift does not call it again.
    const head = socket.read() as Buffer | null;
    if (head === null) return undefined;
    socket.unshift(head);
    if (head.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE)) return 'h2c';
    return head[0] === TLS_HANDSHAKE_RECORD && head[1] === 3 ? 'tls' : undefined;
  }

  private reject(socket: net.Socket, why: 'timeout' | 'not HTTP/2' | 'displaced'): void {
    if (socket.destroyed) return;
    this.closedInHandshake += 1;
    this.waiting.delete(socket);
    this.open.delete(socket);
    this.options.logger.debug({ remote: socket.remoteAddress, why }, 'connection closed before the HTTP/2 handshake');
    socket.destroy();
  }
}
