// 300 sockets that never send a byte against BROKER_MAX_CONNECTIONS=100 (issue 11: 5,000 of them used to stay open
// and, under a 512 fd limit, starve clients and LevelDB's WAL). Promised: real clients are served throughout, the
// broker's descriptors stay bounded, the silent sockets are closed by the handshake timeout, nothing acked is lost.
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { failure, publish, startBrokerProcess } from '../../broker-process.js';
import { brokenByCheck, checkAcked, describeAnswers, probeReuse, publishKnown, seconds } from '../acked.js';
import type { FaultRow } from '../fault-row.js';

const SUBJECT = 'orders';
const LIMIT = 100;
const SILENT = 300;
const HANDSHAKE_MS = 2000;

/** VmHWM: the broker's peak resident size, in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
}

async function fds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

function silentSockets(address: string, n: number): Promise<net.Socket[]> {
  const [host, port] = address.split(':');
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve) => {
          const socket = net.connect(Number(port), host);
          socket.on('error', () => undefined);
          socket.once('connect', () => resolve(socket));
          socket.once('close', () => resolve(socket));
        }),
    ),
  );
}

export async function silentSocketFlood(): Promise<FaultRow> {
  const broker = await startBrokerProcess({
    BROKER_MAX_CONNECTIONS: String(LIMIT),
    BROKER_HANDSHAKE_TIMEOUT: `${HANDSHAKE_MS}ms`,
  });
  try {
    const pid = broker.child.pid ?? 0;
    const client = broker.client();
    const acked = await publishKnown([client], SUBJECT, 200);
    const baseline = await fds(pid);
    const sockets = await silentSockets(broker.address, SILENT);
    const peakFds = (await fds(pid)) - baseline;
    const startedAt = Date.now();
    const during = await publish(client, SUBJECT, 'during the flood').then(
      (id) => `served (id ${id}) in ${seconds(Date.now() - startedAt)}`,
      (err: unknown) => failure(err).reason ?? failure(err).message,
    );
    acked.set(acked.size + 1, Buffer.from('during the flood'));
    await new Promise((r) => setTimeout(r, HANDSHAKE_MS + 1000));
    const stillOpen = sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
    for (const s of sockets) s.destroy();
    const check = await checkAcked(client, SUBJECT, acked);
    const idsReused = await probeReuse(client, SUBJECT, acked);
    const hwm = await peakRss(pid);
    const broken = brokenByCheck(check, 'none lost');
    if (idsReused > 0) broken.push(`${idsReused} ids reused`);
    if (!during.startsWith('served')) broken.push(`a real client was refused: ${during}`);
    if (peakFds > LIMIT + 5) broken.push(`broker fds grew by ${peakFds} (limit ${LIMIT})`);
    if (stillOpen > 0) broken.push(`${stillOpen} silent sockets still open after the handshake timeout`);
    return {
      fault: `${SILENT} silent sockets, BROKER_MAX_CONNECTIONS=${LIMIT}`,
      clientSaw: `Publish ${during}; broker fds +${peakFds}; silent sockets closed after ${seconds(HANDSHAKE_MS)}; Fetch ${describeAnswers(check.answers)}`,
      acked: check.checked,
      lost: check.lost,
      idsReused,
      recovery: 'served throughout',
      promise: 'none lost',
      rssPeakBytes: hwm,
      duplicatesAfterRetries: 0,
      broken,
    };
  } finally {
    await broker.dispose();
  }
}
